"""The sifting worker skips running jobs before arq's claim, and still runs every job exactly once.

How many round trips it saves is measured by bench/pipeline.py, not here."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.constants import in_progress_key_prefix
from arq.worker import Worker, func

from comms.service.claims import SiftingWorker, sifting_supported

QUEUE = "comms:test:claims"
JOBS = 24
SLOTS = 3


async def slow(ctx: dict[str, Any], n: int) -> None:
    """Long enough that the other worker polls while it runs, as a letter would."""
    redis: ArqRedis = ctx["redis"]
    await redis.incr(f"comms:test:ran:{n}")
    await asyncio.sleep(0.05)


def worker(kind: type[Worker], pool: ArqRedis) -> Worker:
    return kind(
        functions=[func(slow, name="slow")],
        queue_name=QUEUE,
        redis_pool=pool,
        burst=True,
        handle_signals=False,
        max_jobs=SLOTS,
        poll_delay=0.01,
        keep_result=0,
    )


async def test_two_sifting_workers_run_each_job_exactly_once(redis_url: str) -> None:
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    try:
        for n in range(JOBS):
            await pool.enqueue_job("slow", n, _job_id=f"claims-{n}")
        pair = [worker(SiftingWorker, pool), worker(SiftingWorker, pool)]
        await asyncio.gather(*(w.async_run() for w in pair))
        runs = [int(await pool.get(f"comms:test:ran:{n}") or 0) for n in range(JOBS)]
        assert runs == [1] * JOBS
        assert sum(w.jobs_complete for w in pair) == JOBS
        assert all(w.jobs_complete > 0 for w in pair)  # both took part: the sifting was exercised
        for w in pair:
            await w.close()
    finally:
        await pool.aclose()


async def test_a_job_running_elsewhere_or_here_is_not_offered_to_the_claim(redis_url: str) -> None:
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    sifter = worker(SiftingWorker, pool)
    assert isinstance(sifter, SiftingWorker)
    try:
        await pool.set(in_progress_key_prefix + "elsewhere", b"1")
        ours = asyncio.create_task(asyncio.sleep(1))
        sifter.tasks["ours"] = ours
        ids = [b"first", b"elsewhere", b"ours", b"last"]
        assert await sifter._not_running(ids) == [b"first", b"last"]
        ours.cancel()
        await asyncio.gather(ours, return_exceptions=True)
        assert await sifter._not_running(ids) == [
            b"first",
            b"ours",
            b"last",
        ]  # ended: offered again
        del sifter.tasks["ours"]  # as arq's next poll would
    finally:
        await sifter.close()
        await pool.aclose()


class StopAfterOneClaim(Worker):
    """Below the sifting worker: SIGTERM arrives as arq claims the poll's first candidate."""

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        await super().start_jobs(job_ids)
        self.allow_pick_jobs = False  # what arq's handle_sig_wait_for_completion sets


class StoppedWhileClaiming(SiftingWorker, StopAfterOneClaim):
    """A stop in the middle of a poll's claims, as came once in tests/service/test_lifecycle.py."""


async def queued(pool: ArqRedis, *names: str) -> None:
    for name in names:
        await pool.enqueue_job("slow", 1, _job_id=name)


async def test_a_stop_that_comes_while_claiming_starts_no_further_job(redis_url: str) -> None:
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    stopping = worker(StoppedWhileClaiming, pool)
    stopping.ctx["redis"] = pool  # as arq's main() sets it for the job it lets run
    try:
        await queued(pool, "claims-stop-1", "claims-stop-2", "claims-stop-3")
        await stopping.start_jobs([b"claims-stop-1", b"claims-stop-2", b"claims-stop-3"])
        assert list(stopping.tasks) == ["claims-stop-1"]  # claimed before the stop came
        for later in ("claims-stop-2", "claims-stop-3"):
            assert not await pool.exists(in_progress_key_prefix + later)
            assert await pool.zscore(QUEUE, later)  # still queued for the next worker
        await asyncio.gather(*stopping.tasks.values())
        assert await pool.get("comms:test:ran:1") == b"1"
    finally:
        await stopping.close()
        await pool.aclose()


async def test_a_cancellation_lost_on_the_way_is_raised_before_any_claim(redis_url: str) -> None:
    """Python 3.11's `asyncio.wait_for` (redis-py sends under it) drops a cancellation that comes
    as the send completes; arq cancels its poll loop only once, so the loop must notice."""
    pool = await create_pool(RedisSettings.from_dsn(redis_url), default_queue_name=QUEUE)
    sifter = worker(SiftingWorker, pool)
    lost = asyncio.Event()

    async def poll_after_a_lost_cancellation() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            lost.set()  # swallowed, as wait_for does, without uncancel()
        await sifter.start_jobs([b"claims-lost"])

    try:
        await queued(pool, "claims-lost")
        poll = asyncio.create_task(poll_after_a_lost_cancellation())
        await asyncio.sleep(0.05)
        poll.cancel()
        with pytest.raises(asyncio.CancelledError):
            await poll
        assert lost.is_set()
        assert sifter.tasks == {}
        assert await pool.zrange(QUEUE, 0, -1) == [b"claims-lost"]
        assert not await pool.exists(in_progress_key_prefix + "claims-lost")
    finally:
        await sifter.close()
        await pool.aclose()


def test_the_override_is_used_only_while_arq_keeps_start_jobs_as_it_was(
    monkeypatch: Any,
) -> None:
    """arq's start_jobs is not public: a release that changes it turns the sifting off."""
    assert sifting_supported()  # the pinned arq

    async def start_jobs(self: Worker, job_ids: list[bytes], limit: int) -> None: ...

    monkeypatch.setattr(Worker, "start_jobs", start_jobs)
    assert not sifting_supported()
    monkeypatch.delattr(Worker, "start_jobs")
    assert not sifting_supported()
