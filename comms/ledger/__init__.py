"""The delivery log: append-only, hash-chained state changes; the system of record (DESIGN.md)."""

from comms.ledger.engine import OUTAGES
from comms.ledger.filters import Filters
from comms.ledger.privacy import UnknownSealKey
from comms.ledger.records import (
    AcceptResult,
    DocumentView,
    Entry,
    EventInfo,
    IllegalTransition,
    Rejection,
    SnapshotMismatch,
    Tombstone,
    UnknownEvent,
    VerifyResult,
)
from comms.ledger.retention import RetentionPolicy
from comms.ledger.store import Ledger
from comms.ledger.views import ViewFilters

__all__ = [
    "OUTAGES",
    "AcceptResult",
    "DocumentView",
    "Entry",
    "EventInfo",
    "Filters",
    "IllegalTransition",
    "Ledger",
    "Rejection",
    "RetentionPolicy",
    "SnapshotMismatch",
    "Tombstone",
    "UnknownEvent",
    "UnknownSealKey",
    "VerifyResult",
    "ViewFilters",
]
