"""One runner owns the loop and the error policy: a transient failure waits and is tried again.

The pipeline goes through an event once. When a channel fails transiently, the `Runner` asks its
one hook, `wait`, what next: here (the CLI, the demo) it waits in process, as a person is waiting
for the answer; the worker's runner (comms/service/deliver.py) records the retry and hands the
wait to arq, so a job slot never sleeps. A channel past its budget is recorded as failed, and the
next run takes routing's next route. Every delay comes from `RetryPolicy.delay_s`.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from comms.models import ChannelName

if TYPE_CHECKING:
    from comms.events import AnyEvent
    from comms.pipeline import DeliveryResult, Outcome, Pipeline
    from comms.settings import Settings


@dataclass(frozen=True)
class RetryPolicy:
    """One backoff for every transient failure: doubling from `base_s`, at most `max_delay_s`, at
    least the channel's own hint; past `budget_s` of trying, the channel counts as failed."""

    base_s: float
    max_delay_s: float
    budget_s: float = math.inf
    attempts: int | None = None  # runs in a row before leaving the event pending; None: no cap

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(settings.retry_base_s, settings.retry_max_delay_s, settings.retry_budget_s)

    def delay_s(self, attempt: int, hint_s: float | None = None) -> float:
        """The wait before try `attempt` + 1 (attempts count from 1)."""
        backoff = self.base_s * 2 ** max(attempt - 1, 0)
        return float(min(self.max_delay_s, max(backoff, hint_s or 0.0)))


# In process a person waits for the answer: three quick tries, then the event is left pending
# (the ledger shows it routed; a worker's sweeper picks it up).
IN_PROCESS = RetryPolicy(base_s=0.2, max_delay_s=1.0, attempts=3)


class Runner:
    """Runs one event until it is settled or must wait; subclasses override `wait` only."""

    def __init__(self, pipeline: Pipeline, policy: RetryPolicy = IN_PROCESS) -> None:
        self.pipeline = pipeline
        self.policy = policy

    async def run(
        self,
        event: AnyEvent,
        *,
        issued_on: date | None = None,
        accepted: bool = False,
        source: str | None = None,
    ) -> Outcome:
        outcome = await self.pipeline.process(
            event, issued_on=issued_on, accepted=accepted, source=source
        )
        # Transient waits on one channel, then each channel given up: bounded by the channels.
        rounds = len(ChannelName) * ((self.policy.attempts or 1) + 1)
        for attempt in range(1, rounds + 1):
            pending = outcome.pending
            if pending is None:
                break
            if not await self.wait(event.event_id, pending, attempt, outcome):
                break
            outcome = await self.pipeline.process(event, issued_on=issued_on, accepted=True)
        return outcome

    async def wait(
        self, event_id: str, pending: DeliveryResult, attempt: int, outcome: Outcome
    ) -> bool:
        """True: run again now. In process: sleep the policy's delay, within its attempts."""
        if self.policy.attempts is not None and attempt >= self.policy.attempts:
            return False
        await asyncio.sleep(self.policy.delay_s(attempt))
        return True
