"""Read-only queries over the log: each takes a connection and returns frozen entries."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.filters import Filters, evidence_value_hash
from comms.ledger.records import Entry, from_row, optional
from comms.ledger.schema import entries, entry_evidence
from comms.models import ChannelName, Language, Status

FINAL_STATUSES = tuple(s.value for s in Status if s.is_final)
MAX_PAGE = 1000  # rows per query page; more is an export, not a query


def entry_from_row(row: Mapping[Any, Any]) -> Entry:
    """A stored row as a frozen Entry, enums restored."""
    return from_row(
        Entry,
        row,
        channel=optional(ChannelName),
        language=optional(Language),
        status=Status,
        evidence=_evidence,
    )


def _evidence(stored: str) -> Mapping[str, str]:
    evidence: dict[str, str] = json.loads(stored)
    return MappingProxyType(evidence)


def _entries(
    conn: Connection, stmt: sa.Select[Any], params: Mapping[str, Any] | None = None
) -> list[Entry]:
    return [entry_from_row(row) for row in conn.execute(stmt, params).mappings()]


def check_page(limit: int, offset: int = 0) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise ValueError("offset must not be negative")


# The two reads every letter makes, built once (comms/ledger/append.py says why).
_LATEST_FOR = (
    sa.select(entries)
    .where(entries.c.communication_id == sa.bindparam("communication_id"))
    .order_by(entries.c.seq.desc())
    .limit(1)
)
_HISTORY = (
    sa.select(entries).where(entries.c.event_id == sa.bindparam("event_id")).order_by(entries.c.seq)
)


def latest_for(conn: Connection, communication_id: str) -> Entry | None:
    found = _entries(conn, _LATEST_FOR, {"communication_id": communication_id})
    return found[0] if found else None


def history(conn: Connection, event_id: str) -> list[Entry]:
    return _entries(conn, _HISTORY, {"event_id": event_id})


def statuses(conn: Connection, event_id: str) -> dict[str | None, Status]:
    """Latest status per communication; None keys the event-level rows (accepted, refused...)."""
    stmt = (
        sa.select(entries.c.communication_id, entries.c.status)
        .where(entries.c.event_id == event_id)
        .order_by(entries.c.seq)
    )
    return {row.communication_id: Status(row.status) for row in conn.execute(stmt)}


def find_by_evidence(conn: Connection, key: str, value: str) -> Entry | None:
    """The latest entry carrying key=value, e.g. an eBox message id a status callback names."""
    stmt = (
        sa.select(entries)
        .join(entry_evidence, entry_evidence.c.seq == entries.c.seq)
        .where(
            entry_evidence.c.key == key,
            entry_evidence.c.value_sha256 == evidence_value_hash(value),
        )
        .order_by(entries.c.seq.desc())
    )
    for row in conn.execute(stmt).mappings():
        entry = entry_from_row(row)
        if entry.evidence.get(key) == value:  # the index is derived: trust only the hashed row
            return entry
    return None


def search(conn: Connection, filters: Filters, *, limit: int, offset: int) -> list[Entry]:
    """Newest first, one page."""
    check_page(limit, offset)
    stmt = filters.apply(sa.select(entries)).order_by(entries.c.seq.desc())
    found = _entries(conn, stmt.limit(limit).offset(offset))
    return [e for e in found if _evidence_holds(e, filters)]


def count(conn: Connection, filters: Filters) -> int:
    """How many entries match (the total an export announces)."""
    stmt = filters.apply(sa.select(sa.func.count()).select_from(entries))
    return int(conn.execute(stmt).scalar_one())


def iter_rows(conn: Connection, filters: Filters) -> Iterator[Mapping[Any, Any]]:
    """Every matching row as stored, oldest first, streamed (exports of any size)."""
    stmt = filters.apply(sa.select(entries)).order_by(entries.c.seq)
    for row in conn.execute(stmt.execution_options(yield_per=1000)).mappings():
        if _evidence_holds(entry_from_row(row), filters):
            yield row


def _evidence_holds(entry: Entry, filters: Filters) -> bool:
    """The evidence index is derived: a hit counts only if the hashed row itself says so."""
    if filters.evidence_key is None:
        return True
    return entry.evidence.get(filters.evidence_key) == filters.evidence_value


def stuck(conn: Connection, *, before: datetime, limit: int) -> list[Entry]:
    """The latest entry of each event whose latest status is not final and older than `before`."""
    check_page(limit)
    latest = (
        sa.select(sa.func.max(entries.c.seq).label("seq")).group_by(entries.c.event_id).subquery()
    )
    stmt = (
        sa.select(entries)
        .join(latest, latest.c.seq == entries.c.seq)
        .where(entries.c.status.not_in(FINAL_STATUSES), entries.c.at < before)
        .order_by(entries.c.seq)
        .limit(limit)
    )
    return _entries(conn, stmt)


def producer_of(entry: Entry, history: Sequence[Entry]) -> str | None:
    """Whose row this is: a rejection belongs to whoever sent that input; every other row to the
    producer whose acceptance the chain holds. A rejection under an id never lets its sender
    claim the event someone else later sent under that id."""
    if entry.status is Status.REJECTED:
        return entry.evidence.get("source")
    accepted = next((e for e in history if e.status is Status.ACCEPTED), None)
    return accepted.evidence.get("source") if accepted is not None else None


def owners_of(history: Sequence[Entry]) -> set[str]:
    """Who may see this event: the producer its chained acceptance names, or, when none was
    accepted, each sender of a rejection under its id."""
    accepted = next((e for e in history if e.status is Status.ACCEPTED), None)
    rows = [accepted] if accepted is not None else history
    return {o for o in (producer_of(e, history) for e in rows) if o is not None}


def rows_of_producer(source: str) -> sa.ColumnElement[bool]:
    """`producer_of` in SQL: the producer's own rejections, and every other row of the events
    whose chained acceptance names it as their `source`."""
    by_source = (
        sa.select(entry_evidence.c.seq)
        .where(entry_evidence.c.key == "source")
        .where(entry_evidence.c.value_sha256 == evidence_value_hash(source))
    )
    accepted = sa.select(entries.c.event_id).where(
        entries.c.status == Status.ACCEPTED.value, entries.c.seq.in_(by_source)
    )
    return sa.or_(
        sa.and_(entries.c.status == Status.REJECTED.value, entries.c.seq.in_(by_source)),
        sa.and_(entries.c.status != Status.REJECTED.value, entries.c.event_id.in_(accepted)),
    )
