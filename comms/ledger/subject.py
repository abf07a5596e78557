"""A person's access request (GDPR art. 15): everything sent to them, in one folder.

The folder holds personal data by design: it is for the person. It is created private (0700),
and nothing about the person is printed or logged on the way.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from comms.ledger.chain import format_at
from comms.ledger.filters import Filters
from comms.ledger.json_records import TOMBSTONE_FIELDS, json_record
from comms.ledger.records import DocumentView, EventInfo
from comms.ledger.views import ViewFilters

if TYPE_CHECKING:
    from comms.archive import Archive
    from comms.ledger.store import Ledger

PURPOSE = "subject access request"  # the reason recorded for each document opened here
_PRIVATE_DIR = 0o700
_PRIVATE_FILE = 0o600
# What the folder says of each event (the subject's HMAC once, atop the manifest) and each opening.
_EVENT = (
    "event_id",
    "doc_type",
    "dossier",
    "language",
    "accepted_at",
    "purged_at",
    "content_sha256",
)
_VIEW = ("document_sha256", "event_id", "viewer", "purpose", "viewed_at")

README = """Access request export (GDPR article 15)

manifest.json   every communication: type, dossier, when, its documents (file, SHA-256, state)
entries.jsonl   the delivery log's rows about these communications, as kept (hash-chained)
events/         the data each letter was made from, where still kept
documents/      the archived letters (PDF) and their email/eBox texts (JSON), where still kept
views.jsonl     which staff member opened these documents, and when
tombstones.jsonl what was deleted at the end of its retention period, by hash and rule

Each document's SHA-256 is in the delivery log: `sha256sum documents/*` must match it.
"""


@dataclass(frozen=True)
class SubjectExport:
    """Counts of what went into the folder; nothing personal."""

    out_dir: Path
    events: int
    entries: int
    documents: int
    listed_only: int
    purged: int
    views: int


def export_subject(
    ledger: Ledger,
    archive: Archive,
    subject_id: str,
    out_dir: Path,
    *,
    viewer: str,
    include_documents: bool = True,
) -> SubjectExport:
    """Writes the folder; each document copied in is recorded as opened by `viewer`."""
    subject = ledger.subject_hmac(subject_id)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise FileExistsError("the output folder is not empty")
    for folder in (out_dir, out_dir / "events", out_dir / "documents"):
        folder.mkdir(mode=_PRIVATE_DIR, parents=True, exist_ok=True)
        folder.chmod(_PRIVATE_DIR)

    found = ledger.events_of(subject)
    ids = [e.event_id for e in found]
    manifest: list[dict[str, Any]] = []
    copied = listed = 0
    with _private_open(out_dir / "entries.jsonl") as out:
        entry_count = ledger.export(Filters(subject_hmac=subject), out, "jsonl")
    for info in found:
        item = _event_item(info)
        snapshot = ledger.event_snapshot(info.event_id)
        if snapshot is not None:
            name = f"events/{info.event_id}.json"
            _write_private(out_dir / name, snapshot)
            item["snapshot"] = name
        for sha, kind in sorted(ledger.documents_of(info.event_id).items()):
            doc: dict[str, Any] = {"kind": kind, "sha256": sha, "file": None}
            if not archive.exists(sha):
                doc["state"] = "purged" if ledger.tombstones(content_sha256=sha) else "missing"
            elif include_documents:
                ledger.record_view(
                    document_sha256=sha, event_id=info.event_id, viewer=viewer, purpose=PURPOSE
                )
                data = archive.get(sha)  # re-hashed on read: the copy is the archived document
                name = f"documents/{sha}{archive.path(sha).suffix}"
                target = out_dir / name
                if not target.exists():
                    _write_private_bytes(target, data)
                doc |= {"file": name, "state": "included"}
                copied += 1
            else:
                doc |= {"state": "listed", "archive_path": str(archive.path(sha))}
                listed += 1
            item["documents"].append(doc)
        manifest.append(item)

    views = _views_of(ledger, ids)
    graves = ledger.tombstones(event_ids=ids) if ids else []
    _write_private(out_dir / "views.jsonl", "".join(_line(json_record(v, _VIEW)) for v in views))
    _write_private(
        out_dir / "tombstones.jsonl",
        "".join(_line(json_record(t, TOMBSTONE_FIELDS)) for t in graves),
    )
    _write_private(out_dir / "README.txt", README)
    summary = {
        "generated_at": format_at(datetime.now(UTC)),
        "subject_hmac": subject,
        "events": manifest,
        "counts": {
            "events": len(found),
            "entries": entry_count,
            "documents_included": copied,
            "documents_listed": listed,
            "tombstones": len(graves),
            "views": len(views),
        },
    }
    _write_private(
        out_dir / "manifest.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n"
    )
    return SubjectExport(
        out_dir=out_dir,
        events=len(found),
        entries=entry_count,
        documents=copied,
        listed_only=listed,
        purged=sum(1 for t in graves if t.kind in ("document", "wrappings")),
        views=len(views),
    )


def _event_item(info: EventInfo) -> dict[str, Any]:
    return json_record(info, _EVENT) | {"snapshot": None, "documents": []}


def _views_of(ledger: Ledger, event_ids: list[str]) -> list[DocumentView]:
    seen: list[DocumentView] = []
    for event_id in event_ids:
        offset = 0
        while page := ledger.views(ViewFilters(event_id=event_id), limit=1000, offset=offset):
            seen.extend(page)
            offset += len(page)
    return sorted(seen, key=lambda v: v.id)


def _line(record: dict[str, Any]) -> str:
    return json.dumps(record, sort_keys=True, ensure_ascii=False) + "\n"


def _private_open(path: Path) -> Any:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE)
    return os.fdopen(fd, "w", encoding="utf-8")


def _write_private(path: Path, text: str) -> None:
    with _private_open(path) as out:
        out.write(text)


def _write_private_bytes(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, _PRIVATE_FILE)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
