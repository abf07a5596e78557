"""No-op jobs per second drained by arq workers from the real Redis: arq's defaults against tuned ones.

    python bench/arq_noop.py                     # 10,000 jobs; each setting with 1 and 2 workers
    python bench/arq_noop.py --jobs 30000 --workers 2

Jobs are enqueued first (with arq's own `enqueue_job`, many at once: that rate is printed too),
then the workers start together in burst mode and drain the queue; the time runs from their
common start to the last one's end. Redis is 127.0.0.1:6379, database 15; only this run's keys are
touched (a queue of its own, job ids with the run's prefix) and they are gone at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any

from arq import create_pool
from arq.connections import RedisSettings
from arq.worker import Worker, func

REDIS = RedisSettings(host="127.0.0.1", port=6379, database=15)
ENQUEUE_CONCURRENCY = 200  # enqueue_job calls in flight (the API's many requests at once)


@dataclass(frozen=True)
class Tuning:
    """The Worker arguments that decide throughput; arq's defaults first."""

    name: str
    max_jobs: int = 10
    poll_delay_s: float = 0.5
    queue_read_limit: int | None = None  # arq: max(max_jobs * 5, 100)
    keep_result_s: float = 3600
    log_results: bool = True


TUNINGS = (
    Tuning("arq defaults"),
    Tuning(  # the settings that drain fastest
        "tuned",
        max_jobs=200,
        poll_delay_s=0.05,
        queue_read_limit=2000,
        keep_result_s=0,
        log_results=False,
    ),
    Tuning(  # results kept for enqueue de-duplication, as the worker does
        "tuned, keep 300 s",
        max_jobs=200,
        poll_delay_s=0.05,
        queue_read_limit=2000,
        keep_result_s=300,
        log_results=False,
    ),
    Tuning(  # a rendering worker's few slots, polled often
        "6 slots",
        max_jobs=6,
        poll_delay_s=0.05,
        queue_read_limit=600,
        keep_result_s=300,
        log_results=False,
    ),
)


async def noop(ctx: dict[str, Any]) -> None:
    """The job: nothing, so what is measured is arq and Redis."""


def _worker(queue_name: str, tuning: dict[str, Any], barrier: Any, out: Any) -> None:
    async def started(ctx: dict[str, Any]) -> None:
        await asyncio.to_thread(barrier.wait)  # every worker starts polling at the same moment

    worker = Worker(
        functions=[func(noop, name="noop")],
        queue_name=queue_name,
        redis_settings=REDIS,
        burst=True,
        handle_signals=False,
        on_startup=started,
        max_jobs=tuning["max_jobs"],
        poll_delay=tuning["poll_delay_s"],
        queue_read_limit=tuning["queue_read_limit"],
        keep_result=tuning["keep_result_s"],
        log_results=tuning["log_results"],
    )
    cpu0 = time.process_time()
    worker.run()
    out.put((time.time(), worker.jobs_complete, time.process_time() - cpu0))


async def enqueue(queue_name: str, prefix: str, jobs: int) -> float:
    """Seconds to enqueue `jobs` no-ops, ENQUEUE_CONCURRENCY at a time."""
    redis = await create_pool(REDIS, default_queue_name=queue_name)
    ids = iter(range(jobs))

    async def one_by_one() -> None:
        for i in ids:
            await redis.enqueue_job("noop", _job_id=f"{prefix}{i:08d}")

    start = time.perf_counter()
    await asyncio.gather(*(one_by_one() for _ in range(ENQUEUE_CONCURRENCY)))
    elapsed = time.perf_counter() - start
    await redis.aclose()
    return elapsed


async def leftovers(queue_name: str, prefix: str) -> int:
    """Deletes this run's keys; says how many were not results (those should be none)."""
    redis = await create_pool(REDIS)
    keys = [k async for k in redis.scan_iter(match=f"arq:*{prefix}*", count=1000)]
    keys += [k async for k in redis.scan_iter(match=f"{queue_name}*", count=1000)]
    for start in range(0, len(keys), 1000):
        await redis.delete(*keys[start : start + 1000])
    await redis.aclose()
    return sum(not k.startswith(b"arq:result:") for k in keys)


def drain(tuning: Tuning, workers: int, jobs: int) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    queue_name, prefix = f"bench:arq-noop:{run}", f"bench-noop-{run}-"
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(queue_name, asdict(tuning), barrier, out))
        for _ in range(workers)
    ]
    try:
        enqueue_s = asyncio.run(enqueue(queue_name, prefix, jobs))
        for proc in procs:
            proc.start()
        barrier.wait()
        start = time.time()
        ends = [out.get() for _ in procs]
        for proc in procs:
            proc.join()
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
        left = asyncio.run(leftovers(queue_name, prefix))  # this run's keys go, whatever happened
    done = sum(n for _, n, _ in ends)
    if done != jobs or left:
        raise SystemExit(f"{tuning.name}: {done} of {jobs} jobs done, {left} keys left behind")
    elapsed = max(end for end, _, _ in ends) - start
    return {
        "rate": jobs / elapsed,
        "enqueue_rate": jobs / enqueue_s,
        "cpu_ms": 1000 * sum(cpu for _, _, cpu in ends) / jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2", help="worker process counts to try")
    args = parser.parse_args()
    print(f"{args.jobs:,} no-op jobs, Redis 127.0.0.1:6379/15; {os.cpu_count()} cores")
    print(
        f"{'setting':<20}{'workers':>8}{'jobs/s':>9}{'worker CPU ms/job':>19}"
        f"{'enqueued/s':>12}{'load avg':>10}",
        flush=True,
    )
    for tuning in TUNINGS:
        for workers in (int(w) for w in args.workers.split(",")):
            r = drain(tuning, workers, args.jobs)
            print(
                f"{tuning.name:<20}{workers:>8}{r['rate']:>9.0f}{r['cpu_ms']:>19.3f}"
                f"{r['enqueue_rate']:>12.0f}{os.getloadavg()[0]:>10.1f}",
                flush=True,
            )
    for tuning in TUNINGS[1:]:
        print(f"\n{tuning.name}: " + ", ".join(f"{k}={v}" for k, v in asdict(tuning).items()))


if __name__ == "__main__":
    main()
