"""Opening an archived document for staff: only an event's own files, and never unrecorded."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from comms.errors import CommsError
from comms.ledger.records import DocumentView, Tombstone

if TYPE_CHECKING:
    from comms.archive import Archive
    from comms.ledger.store import Ledger

MEDIA_TYPES = {"document": "application/pdf", "wrappings": "application/json"}


class DocumentNotFound(CommsError, LookupError):
    """The event has no such document: a wrong link, or someone guessing hashes."""


class DocumentPurged(CommsError):
    """The document was deleted at the end of its retention; the tombstone says when and why."""

    def __init__(self, tombstone: Tombstone) -> None:
        super().__init__(f"document {tombstone.content_sha256} was purged")
        self.tombstone = tombstone


class DocumentMissing(CommsError):
    """The log names the document but the archive lacks it and no tombstone explains: a finding."""


@dataclass(frozen=True)
class OpenedDocument:
    data: bytes
    media_type: str
    kind: str  # document | wrappings
    view: DocumentView  # the record of this opening


def open_document(
    ledger: Ledger,
    archive: Archive,
    *,
    event_id: str,
    sha256: str,
    viewer: str,
    purpose: str,
) -> OpenedDocument:
    """Records the opening, then reads the bytes (re-hashed: `ArchiveCorrupted` if altered)."""
    kind = ledger.documents_of(event_id).get(sha256)
    if kind is None:
        raise DocumentNotFound(f"event {event_id} has no document {sha256}")
    if not archive.exists(sha256):
        graves = ledger.tombstones(content_sha256=sha256)
        if graves:
            raise DocumentPurged(graves[0])
        raise DocumentMissing(f"document {sha256} is missing from the archive")
    view = ledger.record_view(
        document_sha256=sha256, event_id=event_id, viewer=viewer, purpose=purpose
    )
    return OpenedDocument(archive.get(sha256), MEDIA_TYPES[kind], kind, view)
