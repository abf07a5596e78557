"""The frozen values the ledger hands out: entries, accept and verify results, rejections."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from comms.errors import CommsError, FieldError
from comms.models import ChannelName, Language, Status


class UnknownEvent(CommsError, LookupError):
    """A state change names an event the ledger never accepted: fix the caller, do not retry."""


class SnapshotMismatch(CommsError):
    """A stored snapshot no longer matches its content hash: the row was altered, tell staff."""


@dataclass(frozen=True)
class Entry:
    """One row of the append-only log: one state change of an event or a communication."""

    seq: int
    event_id: str
    communication_id: str | None
    doc_type: str | None  # None only on a `rejected` row: an invalid event has no trusted type
    channel: ChannelName | None
    language: Language | None
    status: Status
    at: datetime  # UTC, when the ledger recorded the change
    reason: str | None
    evidence: Mapping[str, str]
    document_sha256: str | None
    template_version: str | None
    renderer_version: str | None
    subject_hmac: str | None
    dossier: str | None
    prev_hash: str
    row_hash: str


@dataclass(frozen=True)
class AcceptResult:
    """Whether `accept_event` recorded the event now (new) or had it already (a redelivery)."""

    event_id: str
    new: bool
    seq: int | None = None  # the `accepted` entry, when new


@dataclass(frozen=True)
class VerifyResult:
    """The outcome of recomputing the chain: ok with a count, or the first seq that breaks."""

    ok: bool
    checked: int  # rows found intact (all rows when ok; those before the break otherwise)
    first_broken_seq: int | None = None
    reason: str | None = None  # what broke, in terms of seqs and hashes only
    head_seq: int = 0  # last seq the chain head records

    @property
    def count(self) -> int:
        return self.checked


@dataclass(frozen=True)
class Rejection:
    """An input that failed validation, kept with its field errors so staff can fix it upstream."""

    id: int
    received_at: datetime
    source: str
    event_id: str | None
    raw: str | None  # None once purged
    errors: tuple[FieldError, ...]
