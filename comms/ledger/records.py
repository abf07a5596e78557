"""The frozen values the ledger hands out: entries, accept and verify results, rejections."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from comms.errors import CommsError, FieldError
from comms.models import ChannelName, Language, Status

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


class UnknownEvent(CommsError, LookupError):
    """A state change names an event the ledger never accepted: fix the caller, do not retry."""


class IllegalTransition(CommsError, ValueError):
    """The state does not follow from the latest one (models.TRANSITIONS): a stale fact or a
    caller's bug; nothing is recorded."""


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
    tombstones_checked: int = 0  # purge records found intact (their own chain)
    first_broken_tombstone: int | None = None
    events_checked: int = 0  # `events` rows found to agree with their chained acceptance
    first_broken_event: str | None = None  # an `events` row altered, added or gone (its id)

    @property
    def count(self) -> int:
        return self.checked


@dataclass(frozen=True)
class DocumentView:
    """One opening of an archived document by a staff member: who, when, which, through what."""

    id: int
    document_sha256: str
    event_id: str | None
    viewer: str
    purpose: str | None
    viewed_at: datetime


@dataclass(frozen=True)
class Tombstone:
    """What a purge removed (by its hash), under which rule, when and by whom."""

    seq: int
    at: datetime
    kind: str  # snapshot | document | wrappings | rejection
    event_id: str | None
    rejection_id: int | None
    doc_type: str | None
    content_sha256: str
    rule: str
    retained_until: date
    actor: str
    chain_seq: int  # the entries' head when the purge ran: the tombstone is anchored after it
    prev_hash: str
    row_hash: str


@dataclass(frozen=True)
class Rejection:
    """An input that failed validation, kept with its field errors so staff can fix it upstream."""

    id: int
    received_at: datetime
    source: str
    event_id: str | None
    raw: str | None  # None once purged
    errors: tuple[FieldError, ...]


@dataclass(frozen=True)
class EventInfo:
    """An accepted event's facts as the `events` table holds them (no snapshot)."""

    event_id: str
    doc_type: str
    dossier: str
    language: Language
    subject_hmac: str
    content_sha256: str
    accepted_at: datetime
    purged_at: datetime | None  # the snapshot and documents were purged at the end of retention


def from_row(record: type[R], row: Mapping[Any, Any], **convert: Callable[[Any], Any]) -> R:
    """A record from the row's columns of the same names, `convert` turning stored values into
    typed ones: one way for every table, so a field added to a record is read everywhere."""
    values = {name: row[name] for name in _field_names(record)}
    for name, turn in convert.items():
        values[name] = turn(values[name])
    return record(**values)


def optional(turn: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """`turn` for a nullable column: NULL stays None."""
    return lambda value: None if value is None else turn(value)


@functools.cache
def _field_names(record: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(field.name for field in dataclasses.fields(record))
