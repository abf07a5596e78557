"""Cut spooled letters into print batches: one merged PDF sorted by postcode, with its manifest.

Files the print shop takes (in `batches/`): `<id>.pdf`, `<id>.csv`, and `<id>.json`, written
last, so a batch is complete once its JSON exists. Our own record of what was batched is
`batches.jsonl`, which the print shop never touches. A cut writes everything into `.staging/`
first, commits by appending its index line, then moves the files into place; a crash at any
point leaves either nothing or a batch the next cut finishes, never a letter printed twice.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pypdf import PdfReader, PdfWriter

from channels.base import StatusUpdate, placed_update
from channels.post import ManifestEntry, fsync_dir, outbox_lock, read_manifest, write_atomically

BATCHES_DIR = "batches"
STAGING_DIR = ".staging"
INDEX = "batches.jsonl"
ADDRESS_COLUMNS = (
    7  # bpost lines (name, contact, street, box, postcode + town, country) and a spare
)
SHARED_MODE = 0o640  # batch files: the owner writes, the print shop's transfer group reads
DEFAULT_MAX_LETTERS = 500  # a print run an inserting machine takes in one go; a setting
_BE_POSTCODE_RE = re.compile(r"^[1-9]\d{3}$")
CSV_COLUMNS = (
    "batch_id",
    "sequence",
    "communication_id",
    "first_page",
    "pages",
    "blank_backs",
    "sheets",
    "envelope",
    "registered",
    "postcode",
    *(f"address_{n}" for n in range(1, ADDRESS_COLUMNS + 1)),
)


class BatchError(Exception):
    """A spooled letter cannot go into a batch (missing or altered PDF): an operator looks."""


@dataclass(frozen=True)
class Envelope:
    """An envelope the print shop stocks and the most sheets it holds."""

    name: str
    max_sheets: int


# bpost prefers DL (220 x 110 mm, A4 folded in three) for bulk letters (domain §8); thicker
# letters go flat in C4. The capacities are the print shop's: settings override them.
DEFAULT_ENVELOPES = (Envelope("DL", 5), Envelope("C4", 100))


@dataclass(frozen=True)
class BatchItem:
    """One letter's place in a batch: what the inserting machine and the post office need."""

    sequence: int  # 1-based, in print order
    communication_id: str
    first_page: int  # 1-based page of the merged PDF where the letter starts
    pages: int  # the letter's own pages
    blank_backs: int  # blank pages added so the next letter starts on a new sheet (duplex)
    sheets: int
    envelope: str
    registered: bool
    postcode: str
    address_lines: tuple[str, ...]
    sha256: str  # the letter's PDF as spooled


@dataclass(frozen=True)
class Batch:
    """One print run: the merged PDF and its manifest."""

    batch_id: str
    cut_at: str  # ISO 8601, UTC
    duplex: bool
    pdf_sha256: str
    items: tuple[BatchItem, ...]

    @property
    def pages(self) -> int:
        return sum(i.pages + i.blank_backs for i in self.items)

    @property
    def sheets(self) -> int:
        return sum(i.sheets for i in self.items)

    def manifest(self) -> dict[str, object]:
        return {
            "batch_id": self.batch_id,
            "cut_at": self.cut_at,
            "duplex": self.duplex,
            "pdf": f"{self.batch_id}.pdf",
            "pdf_sha256": self.pdf_sha256,
            "letters": len(self.items),
            "pages": self.pages,
            "sheets": self.sheets,
            "items": [asdict(i) for i in self.items],
        }

    def status_updates(self) -> list[StatusUpdate]:
        """Each letter is in a print batch now: batch and sequence are its postal evidence."""
        return [placed_update(self.batch_id, i.sequence, i.communication_id) for i in self.items]


@dataclass(frozen=True)
class Placed:
    """Where a communication went: its batch, sequence and whether it is registered."""

    batch_id: str
    sequence: int
    communication_id: str
    registered: bool
    cut_at: datetime

    def status_update(self) -> StatusUpdate:
        return placed_update(self.batch_id, self.sequence, self.communication_id)


@dataclass(frozen=True)
class BatchIndex:
    """The print shop's files name a letter by batch and place, or by its communication id."""

    by_place: dict[tuple[str, int], Placed]
    by_id: dict[str, Placed]

    def locate(self, batch_id: str, sequence: int) -> Placed | None:
        return self.by_place.get((batch_id, sequence))

    def find(self, communication_id: str) -> Placed | None:
        return self.by_id.get(communication_id)


class PrintBatcher:
    """Cuts the post outbox into batches; `cut(force=True)` on the schedule, `force=False` on size."""

    def __init__(
        self,
        outbox_dir: Path,
        *,
        duplex: bool = True,
        max_letters: int = DEFAULT_MAX_LETTERS,
        envelopes: Sequence[Envelope] = DEFAULT_ENVELOPES,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if max_letters < 1:
            raise ValueError("a batch holds at least one letter")
        if not envelopes:
            raise ValueError("at least one envelope is needed")
        self.outbox_dir = outbox_dir
        self.duplex = duplex
        self.max_letters = max_letters
        self.envelopes = tuple(sorted(envelopes, key=lambda e: e.max_sheets))
        self._clock = clock

    @property
    def batches_dir(self) -> Path:
        return self.outbox_dir / BATCHES_DIR

    def cut(self, *, force: bool) -> list[Batch]:
        """New batches of pending letters; without `force`, only full ones (the rest waits)."""
        with outbox_lock(self.outbox_dir):
            self._recover()
            placed = self.placed()  # the index holds every letter ever batched: read it once
            pending = self._pending(placed)
            chunks = [
                pending[i : i + self.max_letters] for i in range(0, len(pending), self.max_letters)
            ]
            if not force:
                chunks = [c for c in chunks if len(c) == self.max_letters]
            now = self._clock().astimezone(UTC)
            taken = {p.batch_id for p in placed}
            batches = []
            for number, chunk in enumerate(chunks, start=1):
                batch_id = _batch_id(now, number, taken)
                taken.add(batch_id)
                batches.append(self._write(batch_id, now, chunk))
            return batches

    def pending(self) -> list[ManifestEntry]:
        """Spooled letters in no batch yet, in print order (postcode, then communication id)."""
        with outbox_lock(self.outbox_dir):
            return self._pending(self.placed())

    def placed(self) -> list[Placed]:
        """Every letter ever batched, from our own index (the print shop may delete its copies)."""
        path = self.outbox_dir / INDEX
        if not path.exists():
            return []
        found: list[Placed] = []
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a torn last line from a crash: that batch never committed
            cut_at = datetime.fromisoformat(record["cut_at"])
            for sequence, (cid, registered) in enumerate(record["items"], start=1):
                found.append(Placed(record["batch_id"], sequence, cid, bool(registered), cut_at))
        return found

    def placed_since(self, since: datetime) -> list[StatusUpdate]:
        """The place of every letter in a batch cut since `since` (channels.base.PrintBatchCloser)."""
        return [p.status_update() for p in self.placed() if p.cut_at >= since]

    def index(self) -> BatchIndex:
        """Every placed letter by place and by communication, from one read of the index."""
        by_place: dict[tuple[str, int], Placed] = {}
        by_id: dict[str, Placed] = {}
        for placed in self.placed():
            by_place.setdefault((placed.batch_id, placed.sequence), placed)
            by_id.setdefault(placed.communication_id, placed)  # its first placement counts
        return BatchIndex(by_place, by_id)

    # --- inside the lock ---------------------------------------------------------------------

    def _pending(self, placed: list[Placed]) -> list[ManifestEntry]:
        done = {p.communication_id for p in placed}
        fresh: dict[str, ManifestEntry] = {}
        for entry in read_manifest(self.outbox_dir):
            if entry.communication_id not in done:
                fresh.setdefault(entry.communication_id, entry)
        return sorted(fresh.values(), key=_print_order)

    def _write(self, batch_id: str, now: datetime, entries: list[ManifestEntry]) -> Batch:
        staging = self.outbox_dir / STAGING_DIR / batch_id
        staging.mkdir(parents=True, exist_ok=False)
        writer = PdfWriter()
        items: list[BatchItem] = []
        next_page = 1
        for sequence, entry in enumerate(entries, start=1):
            pdf = (self.outbox_dir / entry.file).read_bytes()
            if hashlib.sha256(pdf).hexdigest() != entry.sha256:
                raise BatchError(f"spooled PDF of {entry.communication_id} was altered or is gone")
            reader = PdfReader(io.BytesIO(pdf))
            writer.append(reader)
            blanks = 1 if self.duplex and len(reader.pages) % 2 else 0
            if blanks:
                last = reader.pages[-1].mediabox
                writer.add_blank_page(width=float(last.width), height=float(last.height))
            sheets = (len(reader.pages) + blanks) // 2 if self.duplex else len(reader.pages)
            if len(entry.address_lines) > ADDRESS_COLUMNS:
                raise BatchError(f"address of {entry.communication_id} has too many lines")
            items.append(
                BatchItem(
                    sequence=sequence,
                    communication_id=entry.communication_id,
                    first_page=next_page,
                    pages=len(reader.pages),
                    blank_backs=blanks,
                    sheets=sheets,
                    envelope=self._envelope(sheets),
                    registered=entry.registered,
                    postcode=entry.postcode,
                    address_lines=entry.address_lines,
                    sha256=entry.sha256,
                )
            )
            next_page += len(reader.pages) + blanks
        merged = io.BytesIO()
        writer.write(merged)
        pdf_bytes = merged.getvalue()
        batch = Batch(
            batch_id=batch_id,
            cut_at=now.isoformat(timespec="seconds"),
            duplex=self.duplex,
            pdf_sha256=hashlib.sha256(pdf_bytes).hexdigest(),
            items=tuple(items),
        )
        write_atomically(staging / f"{batch_id}.pdf", pdf_bytes, mode=SHARED_MODE)
        write_atomically(staging / f"{batch_id}.csv", _csv(batch).encode("utf-8"), mode=SHARED_MODE)
        manifest = json.dumps(batch.manifest(), ensure_ascii=False, indent=2) + "\n"
        write_atomically(staging / f"{batch_id}.json", manifest.encode("utf-8"), mode=SHARED_MODE)
        self._commit(batch)
        self._publish(batch_id)
        return batch

    def _envelope(self, sheets: int) -> str:
        for envelope in self.envelopes:
            if sheets <= envelope.max_sheets:
                return envelope.name
        return self.envelopes[-1].name  # thicker than planned: the largest, the shop will see

    def _commit(self, batch: Batch) -> None:
        """The index line is the commit point: from here on, these letters are batched."""
        path = self.outbox_dir / INDEX
        record = {
            "batch_id": batch.batch_id,
            "cut_at": batch.cut_at,
            "items": [[i.communication_id, i.registered] for i in batch.items],
        }
        with path.open("a+b") as index:
            index.seek(0, os.SEEK_END)
            if index.tell():
                index.seek(-1, os.SEEK_END)
                if index.read(1) != b"\n":
                    index.write(b"\n")  # end a line torn by a crash, so this one stands alone
            index.write(json.dumps(record).encode("utf-8") + b"\n")
            index.flush()
            os.fsync(index.fileno())

    def _publish(self, batch_id: str) -> None:
        """Staging → batches/: the PDF and CSV first, the JSON (completion mark) last."""
        staging = self.outbox_dir / STAGING_DIR / batch_id
        self.batches_dir.mkdir(parents=True, exist_ok=True)
        for suffix in (".pdf", ".csv", ".json"):
            source = staging / f"{batch_id}{suffix}"
            if source.exists():
                os.replace(source, self.batches_dir / source.name)
        fsync_dir(self.batches_dir)
        shutil.rmtree(staging, ignore_errors=True)

    def _recover(self) -> None:
        """Finish batches committed before a crash; drop staging that never committed."""
        staging_root = self.outbox_dir / STAGING_DIR
        if not staging_root.exists():
            return
        committed = {p.batch_id for p in self.placed()}
        for folder in staging_root.iterdir():
            if folder.name in committed:
                self._publish(folder.name)
            else:
                shutil.rmtree(folder, ignore_errors=True)


def _print_order(entry: ManifestEntry) -> tuple[int, str, str]:
    """Belgian postcodes in order first (bpost sorts by them), letters abroad after."""
    belgian = bool(_BE_POSTCODE_RE.match(entry.postcode))
    return (0 if belgian else 1, entry.postcode, entry.communication_id)


def _batch_id(now: datetime, number: int, taken: set[str]) -> str:
    base = f"{now:%Y%m%d-%H%M%S}-{number:02d}"
    candidate, suffix = base, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{base}-{suffix}"
    return candidate


def _csv(batch: Batch) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # RFC 4180
    writer.writerow(CSV_COLUMNS)
    for i in batch.items:
        lines = list(i.address_lines) + [""] * (ADDRESS_COLUMNS - len(i.address_lines))
        writer.writerow(
            [
                batch.batch_id,
                i.sequence,
                i.communication_id,
                i.first_page,
                i.pages,
                i.blank_backs,
                i.sheets,
                i.envelope,
                "yes" if i.registered else "no",
                i.postcode,
                *lines,
            ]
        )
    return out.getvalue()
