"""An event's facts as the chain holds them, and the `events` table checked against them.

`events` is a working copy (it holds the purgeable snapshot), so its columns are not hashed: an
UPDATE there is invisible to the chain walk. Its facts (subject, dossier, type, language, content
hash, acceptance time) are also on the event's chained `accepted` row; every answer about a
person is built from that row, and `verify` names any `events` row that disagrees with it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.records import EventInfo
from comms.ledger.schema import entries, events
from comms.models import Language, Status

_ACCEPTED = Status.ACCEPTED.value
# Columns of `events` and where the chained `accepted` row keeps the same fact.
BOUND_COLUMNS = ("subject_hmac", "dossier", "doc_type", "language", "content_sha256", "accepted_at")

_accepted = sa.select(entries).where(entries.c.status == _ACCEPTED).subquery("accepted")

# The facts record() copies onto every later row: from the chain, never from the mutable table.
CHAINED_FACTS = (
    sa.select(entries.c.doc_type, entries.c.language, entries.c.subject_hmac, entries.c.dossier)
    .where(entries.c.event_id == sa.bindparam("event_id"), entries.c.status == _ACCEPTED)
    .order_by(entries.c.seq)
    .limit(1)
)


@dataclass(frozen=True)
class EventsCheck:
    """How many `events` rows agree with the chain, or the first that does not (by event id)."""

    checked: int
    first_broken_event: str | None = None
    reason: str | None = None  # column names and seqs only


def check_events(conn: Connection) -> EventsCheck:
    """Every `events` row against its chained `accepted` row, and every such row has its event."""
    joined = (
        sa.select(events, *(c.label(f"chain_{c.name}") for c in _accepted.c))
        .select_from(events.outerjoin(_accepted, _accepted.c.event_id == events.c.event_id))
        .order_by(events.c.event_id)
        .execution_options(yield_per=1000)
    )
    checked = 0
    for row in conn.execute(joined).mappings():
        reason = _disagreement(row)
        if reason:
            return EventsCheck(checked, row["event_id"], reason)
        checked += 1
    orphan = conn.execute(
        sa.select(_accepted.c.event_id, _accepted.c.seq)
        .select_from(_accepted.outerjoin(events, events.c.event_id == _accepted.c.event_id))
        .where(events.c.event_id.is_(None))
        .order_by(_accepted.c.seq)
        .limit(1)
    ).first()
    if orphan is not None:
        reason = f"accepted row {orphan.seq} has no event row"
        return EventsCheck(checked, orphan.event_id, reason)
    return EventsCheck(checked)


def chained_events(conn: Connection, subject: str, *, limit: int) -> list[EventInfo]:
    """The events whose chained acceptance names this subject, oldest first, facts from the chain.

    Only `purged_at` comes from `events`: it says what is no longer kept, not whose it was.
    """
    stmt = (
        sa.select(entries, events.c.purged_at)
        .select_from(entries.outerjoin(events, events.c.event_id == entries.c.event_id))
        .where(entries.c.subject_hmac == subject, entries.c.status == _ACCEPTED)
        .order_by(entries.c.seq)
        .limit(limit)
    )
    return [
        EventInfo(
            event_id=row.event_id,
            doc_type=row.doc_type,
            dossier=row.dossier,
            language=Language(row.language),
            subject_hmac=row.subject_hmac,
            content_sha256=json.loads(row.evidence)["content_sha256"],
            accepted_at=row.at,
            purged_at=row.purged_at,
        )
        for row in conn.execute(stmt)
    ]


def _disagreement(row: Mapping[Any, Any]) -> str | None:
    seq = row["chain_seq"]
    if seq is None:
        return "the event has no accepted row in the chain"
    chained: dict[str, Any] = {
        "subject_hmac": row["chain_subject_hmac"],
        "dossier": row["chain_dossier"],
        "doc_type": row["chain_doc_type"],
        "language": row["chain_language"],
        "content_sha256": json.loads(row["chain_evidence"]).get("content_sha256"),
        "accepted_at": row["chain_at"],
    }
    differ = [name for name in BOUND_COLUMNS if row[name] != chained[name]]
    if differ:
        return f"the event row disagrees with accepted row {seq} on {', '.join(differ)}"
    return None
