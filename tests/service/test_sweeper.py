"""The sweeper puts waiting events back on their queue from the ledger, batch by batch, never twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import redis

from comms.app import build_app
from comms.models import Status
from comms.queue import Queue
from comms.service.intake import Intake
from comms.service.jobs import (
    BULK_QUEUE,
    JOB_KEY_PREFIX,
    RESULT_KEY_PREFIX,
    URGENT_QUEUE,
    job_id,
)
from comms.service.sweeper import Sweeper
from comms.settings import Settings
from tests.service.conftest import event

AWAY = "redis://127.0.0.1:1/0"  # nothing listens there: the door records but cannot queue


async def test_waiting_events_are_requeued_dead_letters_and_live_jobs_are_not(
    service_settings: Settings,
) -> None:
    app = build_app(service_settings)
    names = ["tax-certificate-nl", "decision-fr", "contribution-notice-nl", "tax-certificate-fr"]
    away = Queue.from_settings(service_settings.model_copy(update={"redis_url": AWAY}))
    intake = Intake(app, away)
    for i, name in enumerate([*names, "account-statement-nl"]):
        admission = await intake.take(event(name, f"sweep-{i:08d}"), source="test", door="python")
        assert admission.answer == "accepted" and not admission.queued
    await away.close()
    app.ledger.record(event_id="sweep-00000004", status=Status.FAILED, reason="dead letter")

    queue = Queue.from_settings(service_settings)
    r = redis.Redis.from_url(service_settings.redis_url)
    later = datetime.now(UTC) + timedelta(minutes=20)
    sweeper = Sweeper(app.ledger, queue, stuck_after_s=900, batch=2, clock=lambda: later)
    try:
        # Too recent for a sweeper that looks at events unchanged for 15 minutes: nothing.
        now = Sweeper(app.ledger, queue, stuck_after_s=900, batch=2)
        assert (await now.sweep()).requeued == 0

        first, second, third = await sweeper.sweep(), await sweeper.sweep(), await sweeper.sweep()
        assert (first.requeued, first.wrapped) == (2, False)
        assert (second.requeued, second.wrapped) == (2, False)
        assert (third.seen, third.wrapped) == (0, True)  # the dead letter is not swept
        assert {m.decode() for m in r.zrange(BULK_QUEUE, 0, -1)} == {
            job_id(f"sweep-{i:08d}") for i in (0, 2, 3)
        }
        assert r.zrange(URGENT_QUEUE, 0, -1) == [job_id("sweep-00000001").encode()]

        # Their jobs are live: the next round puts nothing on the queues twice.
        again = await sweeper.sweep()
        assert again.seen == 2 and again.requeued == 0
        assert r.zcard(BULK_QUEUE) == 3
    finally:
        await queue.close()
        r.close()


async def test_a_finished_jobs_result_does_not_keep_a_waiting_event_off_the_queue(
    service_settings: Settings,
) -> None:
    """arq keeps a job's result (and refuses its id) for a while; the ledger says it still waits."""
    app = build_app(service_settings)
    queue = Queue.from_settings(service_settings)
    r = redis.Redis.from_url(service_settings.redis_url)
    try:
        admission = await Intake(app, queue).take(
            event("tax-certificate-nl", "sweep-stale-01"), source="test", door="python"
        )
        assert admission.queued
        r.delete(JOB_KEY_PREFIX + job_id("sweep-stale-01"))
        r.zrem(BULK_QUEUE, job_id("sweep-stale-01"))
        r.set(RESULT_KEY_PREFIX + job_id("sweep-stale-01"), b"{}", ex=300)  # as a failed job leaves
        assert not await queue.put("sweep-stale-01", "tax_certificate")

        later = datetime.now(UTC) + timedelta(minutes=20)
        sweeper = Sweeper(app.ledger, queue, stuck_after_s=900, batch=10, clock=lambda: later)
        assert (await sweeper.sweep()).requeued == 1
        assert r.zrange(BULK_QUEUE, 0, -1) == [job_id("sweep-stale-01").encode()]
    finally:
        await queue.close()
        r.close()
