"""Dead letters for operators: list them, show one's history, send one back to the worker.

A dead letter is an event whose latest ledger row is an event-level `failed`: every channel failed
permanently, or its runs crashed their worker too often (quarantine). A retry is written to the
ledger first (a `routed` row per failed channel, naming who asked), then queued under a job id of
its own, so it is on the record even if Redis loses it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from redis.exceptions import RedisError

from comms.ledger import Entry, Ledger
from comms.ledger.standing import is_dead_letter, latest_per_communication
from comms.models import Status
from comms.queue import Queue
from comms.service.guard import Guard
from comms.service.waiting import DeadLetter, dead_letters

RetryAnswer = Literal["queued", "recorded", "not_dead", "unknown"]


@dataclass(frozen=True)
class RetryResult:
    """`queued`; `recorded` (in the ledger, Redis away: the sweeper queues it); or why not."""

    event_id: str
    answer: RetryAnswer
    channels: tuple[str, ...] = ()  # the channels that will be tried again


class DeadLetterOffice:
    """What `comms dlq` does, over the ledger and the queue."""

    def __init__(self, ledger: Ledger, queue: Queue, guard: Guard) -> None:
        self.ledger = ledger
        self.queue = queue
        self.guard = guard

    async def letters(self, limit: int = 100) -> list[DeadLetter]:
        return await asyncio.to_thread(dead_letters, self.ledger.engine, limit=limit)

    async def history(self, event_id: str) -> list[Entry]:
        return await asyncio.to_thread(self.ledger.history, event_id)

    async def retry(self, event_id: str, *, actor: str) -> RetryResult:
        history = await asyncio.to_thread(self.ledger.history, event_id)
        if not history:
            return RetryResult(event_id, "unknown")
        if not is_dead_letter(history[-1]):
            return RetryResult(event_id, "not_dead")
        latest = latest_per_communication(history)
        again = [e for e in latest.values() if e.status.retryable]
        for entry in again:
            await asyncio.to_thread(
                self.ledger.record,
                event_id=event_id,
                status=Status.ROUTED,
                communication_id=entry.communication_id,
                channel=entry.channel,
                reason=f"operator retry by {actor}",
                evidence={"retry_of_seq": str(history[-1].seq)},
                document_sha256=entry.document_sha256,
            )
        await self.guard.forget(event_id)
        doc_type = history[-1].doc_type or history[0].doc_type or ""
        channels = tuple(e.channel.value for e in again if e.channel is not None)
        try:
            await self.queue.put(event_id, doc_type, suffix=f":retry:{time.time_ns()}")
        except (RedisError, OSError):
            return RetryResult(event_id, "recorded", channels)
        return RetryResult(event_id, "queued", channels)
