"""Which events still need a worker, and which are dead letters, read from the ledger alone.

`Ledger.stuck()` answers a compliance question (anything not final, such as an email that was
dispatched and may still bounce); the sweeper needs a narrower one: events whose latest row says a
worker has more to do. Both tests are `comms.ledger.standing`'s, read here as SQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from comms.ledger.schema import entries
from comms.ledger.standing import is_dead_letter, needs_work


@dataclass(frozen=True)
class Waiting:
    """An event the sweeper may re-enqueue: enough to pick its queue and move the cursor."""

    event_id: str
    doc_type: str
    seq: int


@dataclass(frozen=True)
class DeadLetter:
    """An event an operator must look at, with the reason the worker gave up."""

    event_id: str
    doc_type: str | None
    at: datetime
    reason: str | None
    seq: int


def _latest_rows() -> tuple[sa.Table, sa.ColumnElement[bool]]:
    """`e` and the condition that no later row of the same event exists (index event_id, seq)."""
    e = entries.alias("e")
    later = entries.alias("later")
    newer = sa.exists().where(later.c.event_id == e.c.event_id, later.c.seq > e.c.seq)
    return e, ~newer  # type: ignore[return-value]


def waiting_events(
    engine: Engine, *, before: datetime, after_seq: int, limit: int
) -> list[Waiting]:
    """Events whose latest row needs work and is older than `before`, by seq after `after_seq`."""
    e, latest = _latest_rows()
    stmt = (
        sa.select(e.c.event_id, e.c.doc_type, e.c.seq)
        .where(
            latest,
            e.c.seq > after_seq,
            e.c.at < before,
            e.c.doc_type.is_not(None),
            needs_work.where(e),
        )
        .order_by(e.c.seq)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [Waiting(r.event_id, r.doc_type, r.seq) for r in conn.execute(stmt)]


def dead_letters(engine: Engine, *, limit: int = 100) -> list[DeadLetter]:
    """Events whose latest row is an event-level `failed`, newest first."""
    e, latest = _latest_rows()
    stmt = (
        sa.select(e.c.event_id, e.c.doc_type, e.c.at, e.c.reason, e.c.seq)
        .where(latest, is_dead_letter.where(e))
        .order_by(e.c.seq.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [DeadLetter(r.event_id, r.doc_type, r.at, r.reason, r.seq) for r in rows]
