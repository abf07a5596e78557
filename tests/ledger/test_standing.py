"""The sweeper's SQL and the worker's Python read an event's latest row the same way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from comms.ledger import Ledger
from comms.ledger.schema import entries
from comms.ledger.standing import is_dead_letter, needs_work
from comms.models import Status
from comms.service.waiting import dead_letters, waiting_events


def test_the_scan_and_the_worker_agree_on_every_latest_row(ledger: Ledger) -> None:
    """One event per status and level: the SQL picks exactly the events the predicates pick."""
    at = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    rows = [
        (status, communication_id)
        for status in Status
        for communication_id in (None, "c-1")
        if status is not Status.REJECTED  # a rejected event has no type: never swept
    ]
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.insert(entries),
            [
                {
                    "seq": seq,
                    "event_id": f"evt-standing-{seq:04d}",
                    "communication_id": communication_id,
                    "doc_type": "formal_notice",
                    "status": status.value,
                    "at": at,
                    "evidence": "{}",
                    "hash_version": 1,
                    "prev_hash": "0" * 64,
                    "row_hash": "0" * 64,
                }
                for seq, (status, communication_id) in enumerate(rows, start=1)
            ],
        )
    latest = {event_id: ledger.history(event_id)[-1] for event_id in _ids(len(rows))}

    swept = waiting_events(ledger.engine, before=at + timedelta(1), after_seq=0, limit=1000)
    dead = dead_letters(ledger.engine, limit=1000)

    assert {w.event_id for w in swept} == {i for i, e in latest.items() if needs_work(e)}
    assert {d.event_id for d in dead} == {i for i, e in latest.items() if is_dead_letter(e)}
    waiting = {(e.status, e.communication_id) for e in latest.values() if needs_work(e)}
    assert (Status.FAILED, "c-1") in waiting and (Status.FAILED, None) not in waiting
    assert (Status.ACCEPTED, None) in waiting and (Status.DISPATCHED, "c-1") not in waiting
    assert [(e.status, e.communication_id) for e in latest.values() if is_dead_letter(e)] == [
        (Status.FAILED, None)
    ]


def _ids(n: int) -> list[str]:
    return [f"evt-standing-{seq:04d}" for seq in range(1, n + 1)]
