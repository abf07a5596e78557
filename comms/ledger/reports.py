"""The reads behind the reports: one summary per communication, one line per dated event."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.filters import evidence_value_hash
from comms.ledger.records import from_row, optional
from comms.ledger.schema import entries, entry_evidence, event_dates, events
from comms.models import EVIDENCE_NO_DIGITAL_USER, ChannelName, Status

SENT = tuple(s.value for s in Status if s.handed_over)
REACHED = tuple(s.value for s in Status if s.reached)
# what a channel did with a communication, as reports count it
TRACKED = tuple(s.value for s in Status if s.ever_handed_over or s is Status.FAILED)


@dataclass(frozen=True)
class CommunicationSummary:
    """One communication (event × channel): where it started, where it ended, what it met."""

    communication_id: str
    event_id: str
    doc_type: str | None
    channel: ChannelName | None
    started_at: datetime
    outcome: Status  # the latest state
    reached: frozenset[Status]  # every state it ever had among TRACKED
    no_digital_user: bool  # eBox said the recipient never looks at their eBox


@dataclass(frozen=True)
class DatedEvent:
    """An event with a date that matters (due date, decision date) and when it went out."""

    event_id: str
    dossier: str
    doc_type: str
    accepted_at: datetime
    key_date: date | None  # None for events accepted before the date was recorded
    sent_at: datetime | None  # first hand-over to any channel
    sent_channel: ChannelName | None
    delivered_at: datetime | None  # first delivered or read


def communication_summaries(
    conn: Connection, *, since: datetime | None, until: datetime | None
) -> Iterator[CommunicationSummary]:
    c = entries.c
    ndu_seqs = sa.select(entry_evidence.c.seq).where(
        entry_evidence.c.key == EVIDENCE_NO_DIGITAL_USER,
        entry_evidence.c.value_sha256 == evidence_value_hash("true"),
    )
    ever = [
        sa.func.max(sa.case((c.status == status, 1), else_=0)).label(f"ever_{status}")
        for status in TRACKED
    ]
    grouped = (
        sa.select(
            c.communication_id,
            sa.func.min(c.at).label("started_at"),
            sa.func.max(c.seq).label("last_seq"),
            sa.func.max(sa.case((c.seq.in_(ndu_seqs), 1), else_=0)).label("ndu"),
            *ever,
        )
        .where(c.communication_id.is_not(None))
        .group_by(c.communication_id)
    )
    if since is not None:
        grouped = grouped.having(sa.func.min(c.at) >= since)
    if until is not None:
        grouped = grouped.having(sa.func.min(c.at) < until)
    g = grouped.subquery()
    stmt = (
        sa.select(g, c.event_id, c.doc_type, c.channel, c.status)
        .join(entries, entries.c.seq == g.c.last_seq)
        .order_by(g.c.last_seq)
    )
    for row in conn.execute(stmt.execution_options(yield_per=1000)):
        m = row._mapping
        yield CommunicationSummary(
            communication_id=m["communication_id"],
            event_id=m["event_id"],
            doc_type=m["doc_type"],
            channel=ChannelName(m["channel"]) if m["channel"] else None,
            started_at=_aware(m["started_at"]),
            outcome=Status(m["status"]),
            reached=frozenset(Status(s) for s in TRACKED if m[f"ever_{s}"]),
            no_digital_user=bool(m["ndu"]),
        )


def dated_events(
    conn: Connection,
    *,
    doc_types: tuple[str, ...],
    date_name: str,
    since: datetime | None,
    until: datetime | None,
) -> list[DatedEvent]:
    c = entries.c
    sent = (
        sa.select(c.event_id, sa.func.min(c.seq).label("sent_seq"))
        .where(c.status.in_(SENT))
        .group_by(c.event_id)
        .subquery()
    )
    reached = (
        sa.select(c.event_id, sa.func.min(c.at).label("delivered_at"))
        .where(c.status.in_(REACHED))
        .group_by(c.event_id)
        .subquery()
    )
    first = entries.alias("first_sent")
    stmt = (
        sa.select(
            events.c.event_id,
            events.c.dossier,
            events.c.doc_type,
            events.c.accepted_at,
            event_dates.c.value.label("key_date"),
            first.c.at.label("sent_at"),
            first.c.channel.label("sent_channel"),
            reached.c.delivered_at,
        )
        .select_from(events)
        .outerjoin(
            event_dates,
            sa.and_(event_dates.c.event_id == events.c.event_id, event_dates.c.name == date_name),
        )
        .outerjoin(sent, sent.c.event_id == events.c.event_id)
        .outerjoin(first, first.c.seq == sent.c.sent_seq)
        .outerjoin(reached, reached.c.event_id == events.c.event_id)
        .where(events.c.doc_type.in_(doc_types))
        .order_by(events.c.accepted_at, events.c.event_id)
    )
    if since is not None:
        stmt = stmt.where(events.c.accepted_at >= since)
    if until is not None:
        stmt = stmt.where(events.c.accepted_at < until)
    return [
        from_row(
            DatedEvent,
            row,
            sent_at=optional(_aware),
            sent_channel=optional(ChannelName),
            delivered_at=optional(_aware),
        )
        for row in conn.execute(stmt).mappings()
    ]


def _aware(value: datetime | str) -> datetime:
    """Aggregates lose the column type on SQLite (naive UTC text): give the time its zone back."""
    from datetime import UTC

    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
