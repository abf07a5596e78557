"""Spool each letter into the print outbox: its PDF and a manifest line, so a retry is harmless."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from pypdf import PdfReader

from channels.base import BaseChannel, Outgoing, PermanentError, Receipt

MANIFEST = "manifest.jsonl"
_LOCK = ".lock"
# A communication id becomes a file name: nothing that could climb out of the outbox.
_SAFE_ID_RE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
# bpost (royal decree of 24 April 2014, art. 34): name, street line, postcode + municipality.
MIN_ADDRESS_LINES = 3


@dataclass(frozen=True)
class ManifestEntry:
    """One line of `manifest.jsonl`: what the print shop needs to print and post one letter."""

    communication_id: str
    file: str  # the PDF's name inside the outbox
    pages: int
    registered: bool  # aangetekend / recommandé: a print-shop option per letter (domain §8)
    address_lines: tuple[str, ...]
    postcode: str
    sha256: str
    written_at: str  # ISO 8601, UTC

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, line: str) -> ManifestEntry:
        data = json.loads(line)
        data["address_lines"] = tuple(data["address_lines"])
        return cls(**data)


class PostChannel(BaseChannel):
    """Letters for the print shop, one PDF per communication and an append-only manifest.

    This is the spool only: `channels.post_batch` cuts the spooled letters into print batches,
    and `channels.post_feedback` reads the print shop's acknowledgements and returned mail.
    """

    name = "post"

    def __init__(self, *, outbox_dir: Path) -> None:
        self.outbox_dir = outbox_dir

    async def open(self) -> None:
        self.outbox_dir.mkdir(parents=True, exist_ok=True)

    async def send(self, outgoing: Outgoing) -> Receipt:
        pages = _check(outgoing)
        return await asyncio.to_thread(self._spool, outgoing, pages)

    def entries(self) -> Iterator[ManifestEntry]:
        """Every manifest line, oldest first: the input of the batch step."""
        return read_manifest(self.outbox_dir)

    def _spool(self, outgoing: Outgoing, pages: int) -> Receipt:
        content = outgoing.document.content
        digest = hashlib.sha256(content).hexdigest()
        pdf_path = self.outbox_dir / f"{outgoing.communication_id}.pdf"
        with self._locked():
            if pdf_path.exists():
                if hashlib.sha256(pdf_path.read_bytes()).hexdigest() != digest:
                    raise PermanentError(
                        "another document is already spooled under this communication id",
                        evidence={"outbox_file": str(pdf_path)},
                    )
                entry = self._find(outgoing.communication_id)
                if entry is None:  # a crash between the PDF and its manifest line: finish the job
                    entry = self._append(outgoing, pdf_path, digest, pages)
            else:
                write_atomically(pdf_path, content)
                entry = self._append(outgoing, pdf_path, digest, pages)
        evidence = {
            "outbox_file": str(self.outbox_dir / entry.file),
            "registered": str(entry.registered).lower(),
        }
        return Receipt(self.name, outgoing.communication_id, "dispatched", evidence)

    def _find(self, communication_id: str) -> ManifestEntry | None:
        return next((e for e in self.entries() if e.communication_id == communication_id), None)

    def _append(self, outgoing: Outgoing, pdf_path: Path, digest: str, pages: int) -> ManifestEntry:
        entry = ManifestEntry(
            communication_id=outgoing.communication_id,
            file=pdf_path.name,
            pages=pages,
            registered=outgoing.registered,
            address_lines=outgoing.to.postal_lines,
            postcode=outgoing.to.postcode,
            sha256=digest,
            written_at=datetime.now(UTC).isoformat(timespec="seconds"),
        )
        with (self.outbox_dir / MANIFEST).open("a", encoding="utf-8") as manifest:
            manifest.write(entry.to_json() + "\n")
            manifest.flush()
            os.fsync(manifest.fileno())
        return entry

    def _locked(self) -> contextlib.AbstractContextManager[None]:
        return outbox_lock(self.outbox_dir)


def read_manifest(outbox_dir: Path) -> Iterator[ManifestEntry]:
    """Every spooled letter's manifest line, oldest first."""
    path = outbox_dir / MANIFEST
    if not path.exists():
        return
    with path.open(encoding="utf-8") as manifest:
        for line in manifest:
            if line.strip():
                yield ManifestEntry.from_json(line)


@contextlib.contextmanager
def outbox_lock(outbox_dir: Path) -> Iterator[None]:
    """One writer at a time across threads and processes sharing the outbox (flock)."""
    outbox_dir.mkdir(parents=True, exist_ok=True)
    with (outbox_dir / _LOCK).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _check(outgoing: Outgoing) -> int:
    """What the print shop cannot handle is refused before anything is written; returns pages."""
    if not _SAFE_ID_RE.match(outgoing.communication_id):
        raise PermanentError("communication id is not usable as a file name")
    lines = outgoing.to.postal_lines
    if len(lines) < MIN_ADDRESS_LINES or not all(line.strip() for line in lines):
        raise PermanentError("postal address needs at least 3 non-empty lines (bpost art. 34)")
    return _page_count(outgoing.document.content)


def _page_count(content: bytes) -> int:
    if not content.startswith(b"%PDF-"):
        raise PermanentError("document is not a PDF")
    try:
        pages = len(PdfReader(io.BytesIO(content)).pages)
    except Exception:  # pypdf raises many types on malformed input; all mean "cannot print this"
        raise PermanentError("document is not a readable PDF") from None
    if pages < 1:
        raise PermanentError("document has no pages")
    return pages


def write_atomically(path: Path, content: bytes, *, mode: int | None = None) -> None:
    """Temp file in the same folder, fsync, rename: a reader sees the whole file or none of it.

    mkstemp creates the file 0600; `mode` opens it up (e.g. to the print shop's transfer group).
    """
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        if mode is not None:
            os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make renames in `path` durable."""
    dir_fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
