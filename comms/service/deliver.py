"""The worker's one task: run an accepted event through the pipeline, then decide arq's next move.

Safe to run twice, at any point, on any machine (arq is at-least-once): the event comes from the
ledger's snapshot, the pipeline resumes from the ledger's rows, and the per-event lock keeps two
runs of one event apart. It is the worker's `Runner`: a transient failure becomes arq's `Retry`
with the policy's backoff until the time budget is spent, then the channel counts as failed and
the routing's next channel is tried.
"""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Callable
from datetime import UTC, datetime

from arq.worker import Retry
from redis.exceptions import RedisError

from comms.app import App
from comms.events import AnyEvent, parse_event
from comms.ledger import OUTAGES, Entry, SnapshotMismatch, UnknownSealKey
from comms.ledger.standing import needs_work
from comms.logging import get_logger
from comms.models import Status
from comms.observability import (
    CRASHES,
    DELIVERIES,
    EVENTS_PROCESSED,
    QUARANTINED,
    RETRIES,
    type_label,
)
from comms.pipeline import DeliveryResult, Outcome
from comms.runner import RetryPolicy, Runner
from comms.service.guard import Guard
from comms.settings import Settings

log = get_logger(__name__)

# A database outage is usually a restart or a failover, over in seconds: its first retry comes
# after 1 s, doubling, and never later than a channel failure's first (COMMS_RETRY_BASE_S).
OUTAGE_RETRY_BASE_S = 1.0
LOCK_BUSY_RETRY_S = 5.0  # another run of the same event holds the lock: look again after this
LOCK_MARGIN_S = (
    5.0  # the lock outlives arq's job timeout (a timed-out run is cancelled first) but not the
)
# in-progress key (timeout + 10 s): a killed run's lock is gone when arq hands the job out again
EVIDENCE_QUARANTINED = "quarantined"
RUN_SHARE_OF_JOB_TIMEOUT = 0.9  # of arq's job timeout, for the run itself (renders queue up too)
# Outages of what every event needs, and runs past their time (a render queue behind a batch, a
# loaded machine): retried with backoff, never counted against the event.
INFRASTRUCTURE: tuple[type[Exception], ...] = (
    *OUTAGES,
    RedisError,
    OSError,
    TimeoutError,
    UnknownSealKey,  # this process lacks a seal key the ledger uses: settings, not the event
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Deliverer(Runner):
    """`await deliverer(event_id, job_try)`: one run of one event; returns the pipeline's verdict."""

    def __init__(
        self,
        app: App,
        guard: Guard,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        super().__init__(app.pipeline, RetryPolicy.from_settings(settings))
        # the same backoff from a shorter start, never later than a channel failure's first retry
        self.outage_policy = RetryPolicy(OUTAGE_RETRY_BASE_S, settings.retry_base_s)
        self.app = app
        self.guard = guard
        self.settings = settings
        self._clock = clock

    async def __call__(self, event_id: str, job_try: int) -> str:
        starts = await self.guard.start(event_id)
        if starts > self.settings.max_crashes:
            await self.guard.ended(event_id)
            return await self._quarantine(event_id, crashes=starts - 1)
        token = await self.guard.lock(event_id, self.settings.job_timeout_s + LOCK_MARGIN_S)
        if token is None:
            await self.guard.ended(event_id)
            raise Retry(defer=LOCK_BUSY_RETRY_S)
        orderly = False
        try:
            # Ours ends first: a run past arq's timeout would be failed for good by arq (its result
            # then blocks the job id); ours is a TimeoutError, retried like an outage.
            async with asyncio.timeout(self.settings.job_timeout_s * RUN_SHARE_OF_JOB_TIMEOUT):
                verdict = await self._run(event_id)
            orderly = True
            return verdict
        except (Retry, asyncio.CancelledError):
            orderly = True  # a deferred retry, or a shutdown: arq runs the job again
            raise
        except INFRASTRUCTURE as exc:
            orderly = True  # the database or Redis is away: not this event's fault
            log.warning("event run interrupted", event_id=event_id, error=type(exc).__name__)
            policy = self.outage_policy if isinstance(exc, OUTAGES) else self.policy
            raise Retry(defer=policy.delay_s(job_try)) from None
        except Exception as exc:
            CRASHES.inc()
            log.error(
                "event run crashed; counted towards quarantine",
                event_id=event_id,
                error=type(exc).__name__,
                where=_where(exc),
                job_try=job_try,
            )
            raise Retry(defer=self.policy.delay_s(job_try)) from None
        finally:
            await self.guard.unlock(event_id, token)
            if orderly:
                await self.guard.ended(event_id)

    async def _run(self, event_id: str) -> str:
        ledger = self.app.ledger
        try:
            snapshot = await asyncio.to_thread(ledger.event_snapshot, event_id)
        except SnapshotMismatch:
            await self._dead_letter(event_id, "the event snapshot does not match its hash", {})
            return "failed"
        if snapshot is None:
            log.warning("no snapshot for this event (unknown or purged)", event_id=event_id)
            return "unknown"
        event: AnyEvent = parse_event(snapshot)
        outcome = await self.run(event, accepted=True)
        self._count(outcome)
        return outcome.verdict

    async def wait(
        self, event_id: str, pending: DeliveryResult, attempt: int, outcome: Outcome
    ) -> bool:
        """Raises `Retry` within the budget; past it, records the channel as failed: run again."""
        trail = await self._trail(event_id, pending.communication_id)
        waited_s = (self._clock() - trail[0].at).total_seconds() if trail else 0.0
        if waited_s < self.policy.budget_s:
            delay_s = self.policy.delay_s(len(trail) or 1, pending.retry_after_s)
            await self._record(
                event_id,
                pending,
                Status.ROUTED,
                f"transient failure, retry in {delay_s:.0f} s: {pending.reason}",
                {"retry_in_s": f"{delay_s:.0f}", "attempt": str(len(trail) or 1)},
                outcome.document_sha256,
            )
            RETRIES.labels(pending.channel.value).inc()
            EVENTS_PROCESSED.labels(type_label(outcome.doc_type), "pending").inc()
            raise Retry(defer=delay_s)
        reason = f"transient failures for {waited_s:.0f} s, budget spent: {pending.reason}"
        await self._record(event_id, pending, Status.FAILED, reason, {}, outcome.document_sha256)
        return True

    async def _trail(self, event_id: str, communication_id: str) -> list[Entry]:
        """The trailing run of `routed` rows of one communication: when its attempts began."""
        history = await asyncio.to_thread(self.app.ledger.history, event_id)
        rows = [e for e in history if e.communication_id == communication_id]
        trail: list[Entry] = []
        for entry in reversed(rows):
            if entry.status is not Status.ROUTED:
                break
            trail.insert(0, entry)
        return trail

    async def _record(
        self,
        event_id: str,
        delivery: DeliveryResult,
        status: Status,
        reason: str,
        evidence: dict[str, str],
        document_sha256: str | None,
    ) -> None:
        await asyncio.to_thread(
            self.app.ledger.record,
            event_id=event_id,
            status=status,
            communication_id=delivery.communication_id,
            channel=delivery.channel,
            reason=reason,
            evidence=evidence,
            document_sha256=document_sha256,
        )

    async def _quarantine(self, event_id: str, *, crashes: int) -> str:
        history = await asyncio.to_thread(self.app.ledger.history, event_id)
        if not history or not needs_work(history[-1]):
            return "duplicate"  # the crashes came after the work was done: nothing to set aside
        reason = (
            f"quarantined: {crashes} runs crashed their worker; an operator decides (comms dlq)"
        )
        evidence = {EVIDENCE_QUARANTINED: "true", "crashes": str(crashes)}
        await self._dead_letter(event_id, reason, evidence)
        QUARANTINED.inc()
        log.error("event quarantined", event_id=event_id, crashes=crashes)
        return "quarantined"

    async def _dead_letter(self, event_id: str, reason: str, evidence: dict[str, str]) -> None:
        await asyncio.to_thread(
            self.app.ledger.record,
            event_id=event_id,
            status=Status.FAILED,
            reason=reason,
            evidence=evidence,
        )

    @staticmethod
    def _count(outcome: Outcome) -> None:
        EVENTS_PROCESSED.labels(type_label(outcome.doc_type), outcome.verdict).inc()
        if outcome.verdict in ("sent", "failed"):
            for d in outcome.deliveries:
                DELIVERIES.labels(d.channel.value, d.status.value).inc()


def _where(exc: BaseException) -> str:
    """The innermost frame of a traceback, as `file:line in function`: no message, no values."""
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return "?"
    last = frames[-1]
    return f"{last.filename.rsplit('/', 1)[-1]}:{last.lineno} in {last.name}"
