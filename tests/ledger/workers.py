"""Code run in child processes; each builds its own engine, as a real worker does."""

from __future__ import annotations

import time
from typing import Any

from comms.ledger import Ledger
from comms.models import ChannelName, Status
from tests.ledger.helpers import SECRET, accept

# A real worker renders and sends between two appends; without a pause, SQLite's busy handler
# (which sleeps while the lock holder re-takes it at once) lets each process run its whole loop.
WORK_BETWEEN_APPENDS_S = 0.002


def append_many(url: str, worker: int, appends: int, event_id: str, barrier: Any) -> None:
    """Mixes new events and state changes of a shared event, all racing for the chain head."""
    with Ledger(url, SECRET) as ledger:
        barrier.wait()
        for i in range(appends):
            time.sleep(WORK_BETWEEN_APPENDS_S)
            if i % 10 == 0:
                accept(ledger, f"evt-w{worker}-{i:04d}")
            else:
                ledger.record(
                    event_id=event_id,
                    status=Status.ROUTED,
                    communication_id=f"com-{worker}-{i}",
                    channel=ChannelName.EBOX,
                    evidence={"worker": str(worker), "i": str(i)},
                )


def accept_same(url: str, event_ids: list[str], barrier: Any, results: Any) -> None:
    """Accepts the same events as its siblings at the same moment; reports which were new to it."""
    with Ledger(url, SECRET) as ledger:
        barrier.wait()
        results.put([(event_id, accept(ledger, event_id).new) for event_id in event_ids])


def migrate(url: str, barrier: Any) -> None:
    """A worker starting up: every one of them runs the migrations."""
    with Ledger(url, SECRET) as ledger:
        barrier.wait()
        ledger.migrate()
