"""Does the archive still hold every document the log names, unchanged, or a tombstone for it?"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from comms.archive import ArchiveCorrupted

if TYPE_CHECKING:
    from comms.archive import Archive
    from comms.ledger.store import Ledger


@dataclass
class ArchiveAudit:
    """Hashes only: documents intact, purged (with a tombstone), missing or altered."""

    intact: int = 0
    purged: int = 0
    missing: list[str] = field(default_factory=list)  # gone without a tombstone: a finding
    corrupted: list[str] = field(default_factory=list)  # no longer hash to their name

    @property
    def ok(self) -> bool:
        return not self.missing and not self.corrupted


def audit_archive(ledger: Ledger, archive: Archive) -> ArchiveAudit:
    """Re-hashes every archived document named in the log (slow on a large archive: opt in)."""
    result = ArchiveAudit()
    tombstoned = ledger.tombstoned_documents()
    for sha in ledger.all_documents():
        if not archive.exists(sha):
            if sha in tombstoned:
                result.purged += 1
            else:
                result.missing.append(sha)
            continue
        try:
            archive.get(sha)
        except ArchiveCorrupted:
            result.corrupted.append(sha)
        else:
            result.intact += 1
    return result
