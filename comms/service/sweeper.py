"""The sweeper (an arq cron job): re-enqueues events the ledger shows waiting with no live job.

This is what makes Redis disposable: a flushed or restarted Redis, an expired arq job or a job
arq gave up on leaves the event's latest ledger row in a waiting state, and the next sweep after
`stuck_after_s` puts it back on its queue. Dead letters are never swept: an operator decides.
The scan walks the ledger with a cursor kept in Redis, a batch per run, so a long queue of
legitimately waiting events cannot hide a lost one behind it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from comms.ledger import Ledger
from comms.logging import get_logger
from comms.observability import SWEPT
from comms.queue import Queue
from comms.service.waiting import waiting_events

log = get_logger(__name__)

CURSOR_KEY = "comms:sweeper:cursor"  # ledger seq the next sweep starts after


@dataclass(frozen=True)
class SweepResult:
    """One sweep: how many waiting events it saw and how many it put back on a queue."""

    seen: int
    requeued: int
    wrapped: bool  # the scan reached the end of the ledger and starts from the top next time


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Sweeper:
    """Any number of workers may run it at once: arq refuses a second job for a live event."""

    def __init__(
        self,
        ledger: Ledger,
        queue: Queue,
        *,
        stuck_after_s: float,
        batch: int,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.ledger = ledger
        self.queue = queue
        self.stuck_after = timedelta(seconds=stuck_after_s)
        self.batch = batch
        self._clock = clock

    async def sweep(self) -> SweepResult:
        cursor = int(await self.queue.redis.get(CURSOR_KEY) or 0)
        found = await asyncio.to_thread(
            waiting_events,
            self.ledger.engine,
            before=self._clock() - self.stuck_after,
            after_seq=cursor,
            limit=self.batch,
        )
        wrapped = len(found) < self.batch
        live = await self.queue.live(w.event_id for w in found)
        requeued = 0
        for w in found:
            if w.event_id not in live and await self.queue.requeue(w.event_id, w.doc_type):
                requeued += 1
                SWEPT.labels(self.queue.queue_of(w.doc_type)).inc()
        await self.queue.redis.set(CURSOR_KEY, 0 if wrapped else found[-1].seq)
        if requeued:
            log.warning("sweeper re-enqueued waiting events", count=requeued, seen=len(found))
        return SweepResult(seen=len(found), requeued=requeued, wrapped=wrapped)
