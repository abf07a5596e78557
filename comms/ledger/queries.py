"""Read-only queries over the log: each takes a connection and returns frozen entries."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.records import Entry
from comms.ledger.schema import entries, entry_evidence
from comms.models import ChannelName, Language, Status

FINAL_STATUSES = tuple(s.value for s in Status if s.is_final)
MAX_PAGE = 1000  # rows per query page; more is an export, not a query


def evidence_value_hash(value: str) -> str:
    """What `entry_evidence` keeps of a value: fixed length, so any value fits the index."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def entry_from_row(row: Mapping[Any, Any]) -> Entry:
    """A stored row as a frozen Entry, enums restored."""
    evidence: dict[str, str] = json.loads(row["evidence"])
    return Entry(
        seq=row["seq"],
        event_id=row["event_id"],
        communication_id=row["communication_id"],
        doc_type=row["doc_type"],
        channel=ChannelName(row["channel"]) if row["channel"] is not None else None,
        language=Language(row["language"]) if row["language"] is not None else None,
        status=Status(row["status"]),
        at=row["at"],
        reason=row["reason"],
        evidence=MappingProxyType(evidence),
        document_sha256=row["document_sha256"],
        template_version=row["template_version"],
        renderer_version=row["renderer_version"],
        subject_hmac=row["subject_hmac"],
        dossier=row["dossier"],
        prev_hash=row["prev_hash"],
        row_hash=row["row_hash"],
    )


def _entries(conn: Connection, stmt: sa.Select[Any]) -> list[Entry]:
    return [entry_from_row(row) for row in conn.execute(stmt).mappings()]


def check_page(limit: int, offset: int = 0) -> None:
    if not 1 <= limit <= MAX_PAGE:
        raise ValueError(f"limit must be between 1 and {MAX_PAGE}")
    if offset < 0:
        raise ValueError("offset must not be negative")


def latest_for(conn: Connection, communication_id: str) -> Entry | None:
    stmt = (
        sa.select(entries)
        .where(entries.c.communication_id == communication_id)
        .order_by(entries.c.seq.desc())
        .limit(1)
    )
    found = _entries(conn, stmt)
    return found[0] if found else None


def history(conn: Connection, event_id: str) -> list[Entry]:
    stmt = sa.select(entries).where(entries.c.event_id == event_id).order_by(entries.c.seq)
    return _entries(conn, stmt)


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


def search(
    conn: Connection,
    *,
    subject_hmac: str | None,
    dossier: str | None,
    event_id: str | None,
    doc_type: str | None,
    channel: ChannelName | None,
    status: Status | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    offset: int,
) -> list[Entry]:
    """Newest first; every filter optional and combined with AND; `until` is exclusive."""
    check_page(limit, offset)
    equal: Sequence[tuple[sa.Column[Any], str | None]] = (
        (entries.c.subject_hmac, subject_hmac),
        (entries.c.dossier, dossier),
        (entries.c.event_id, event_id),
        (entries.c.doc_type, doc_type),
        (entries.c.channel, channel.value if channel else None),
        (entries.c.status, status.value if status else None),
    )
    stmt = sa.select(entries)
    for column, value in equal:
        if value is not None:
            stmt = stmt.where(column == value)
    if since is not None:
        stmt = stmt.where(entries.c.at >= since)
    if until is not None:
        stmt = stmt.where(entries.c.at < until)
    return _entries(conn, stmt.order_by(entries.c.seq.desc()).limit(limit).offset(offset))


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
