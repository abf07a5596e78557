"""The delivery log: append-only, hash-chained state changes; the system of record (DESIGN.md)."""

from comms.ledger.records import (
    AcceptResult,
    Entry,
    Rejection,
    SnapshotMismatch,
    UnknownEvent,
    VerifyResult,
)
from comms.ledger.store import Ledger

__all__ = [
    "AcceptResult",
    "Entry",
    "Ledger",
    "Rejection",
    "SnapshotMismatch",
    "UnknownEvent",
    "VerifyResult",
]
