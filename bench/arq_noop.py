"""No-op jobs per second drained by arq workers from the real Redis: arq's defaults against tuned ones.

    python bench/arq_noop.py                     # 10,000 jobs; each setting with 1 and 2 workers
    python bench/arq_noop.py --jobs 30000 --workers 2

Jobs are enqueued first (with arq's own `enqueue_job`, many at once: that rate is printed too),
then the workers start together in burst mode and drain the queue; the time runs from their
common start to the last one's end. Redis is 127.0.0.1:6379, database 15; only this run's keys are
touched (a queue of its own, job ids with the run's prefix) and they are gone at the end.

Rows: arq's defaults; "tuned" (many slots, frequent polls, big reads, no results kept) with
redis-py's pure-Python reply parser, with hiredis, and with uvloop; then comms' own worker
settings (comms/worker.py: 4 slots, results kept, JSON jobs) with arq's poll delay, on asyncio,
as chosen, with a small read, and without results kept. "tries/job" counts WATCHes during the
drain (Redis-wide): above 1.00, workers tried ids another worker had taken.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, cast

import redis
import uvloop
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func
from quiet import warn_if_busy  # bench/quiet.py: scripts run with bench/ first on sys.path
from redis._parsers import _AsyncRESP2Parser
from redis.asyncio import ConnectionPool
from redis.asyncio.connection import DefaultParser
from redis.utils import HIREDIS_AVAILABLE

from comms.service.claims import SiftingWorker
from comms.service.jobs import dumps, loads

REDIS_HOST = "127.0.0.1"
REDIS = RedisSettings(host=REDIS_HOST, port=6379, database=15)
ENQUEUE_CONCURRENCY = 200  # enqueue_job calls in flight (the API's many requests at once)
PARSERS = {"hiredis": DefaultParser, "python": _AsyncRESP2Parser}


@dataclass(frozen=True)
class Tuning:
    """The Worker arguments that decide throughput, and the libraries under it; arq's defaults first."""

    name: str
    max_jobs: int = 10
    poll_delay_s: float = 0.5
    queue_read_limit: int | None = None  # arq: max(max_jobs * 5, 100)
    keep_result_s: float = 3600
    log_results: bool = True
    parser: str = "hiredis"  # redis-py's reply parser: hiredis (C, when installed) or python
    loop: str = "asyncio"  # the worker's event loop: asyncio or uvloop
    json_jobs: bool = False  # comms' JSON serializer instead of arq's pickle
    sift: bool = False  # comms' SiftingWorker: skip ids seen running before arq's claim


TUNED: dict[str, Any] = {
    "max_jobs": 200,
    "poll_delay_s": 0.05,
    "queue_read_limit": 2000,
    "log_results": False,
}
# comms/worker.py as configured (bulk queue): its 4 job slots, results kept 300 s, JSON jobs.
COMMS: dict[str, Any] = {"max_jobs": 4, "keep_result_s": 300, "json_jobs": True}

TUNINGS = (
    Tuning("arq defaults"),
    Tuning("tuned, no hiredis", **TUNED, keep_result_s=0, parser="python"),
    Tuning("tuned", **TUNED, keep_result_s=0),
    Tuning("tuned + uvloop", **TUNED, keep_result_s=0, loop="uvloop"),
    Tuning("comms, poll 0.5 s", **COMMS, poll_delay_s=0.5, queue_read_limit=100, loop="uvloop"),
    Tuning("comms, asyncio", **COMMS, poll_delay_s=0.05, queue_read_limit=100),
    Tuning("comms", **COMMS, poll_delay_s=0.05, queue_read_limit=100, loop="uvloop"),
    Tuning("comms, read 20", **COMMS, poll_delay_s=0.05, queue_read_limit=20, loop="uvloop"),
    Tuning(
        "comms, keep 0",
        **{**COMMS, "keep_result_s": 0},
        poll_delay_s=0.05,
        queue_read_limit=100,
        loop="uvloop",
    ),
    Tuning(
        "comms + sifting",
        **COMMS,
        poll_delay_s=0.05,
        queue_read_limit=100,
        loop="uvloop",
        sift=True,
    ),
)


async def noop(ctx: dict[str, Any]) -> None:
    """The job: nothing (or a wait, `--job-ms`), so what is measured is arq and Redis."""
    if ctx["job_ms"]:
        await asyncio.sleep(ctx["job_ms"] / 1000)


def _worker(queue_name: str, tuning: dict[str, Any], job_ms: float, barrier: Any, out: Any) -> None:
    async def started(ctx: dict[str, Any]) -> None:
        await asyncio.to_thread(barrier.wait)  # every worker starts polling at the same moment

    async def run() -> tuple[float, int, float]:
        serializer: dict[str, Any] = (
            {"job_serializer": dumps, "job_deserializer": loads} if tuning["json_jobs"] else {}
        )
        connections = ConnectionPool(
            host=REDIS_HOST,
            port=REDIS.port,
            db=REDIS.database,
            parser_class=PARSERS[tuning["parser"]],
        )
        kind = SiftingWorker if tuning["sift"] else Worker
        worker = kind(
            functions=[func(noop, name="noop")],
            ctx={"job_ms": job_ms},
            queue_name=queue_name,
            redis_pool=ArqRedis(connections, default_queue_name=queue_name, **serializer),
            burst=True,
            handle_signals=False,
            on_startup=started,
            max_jobs=tuning["max_jobs"],
            poll_delay=tuning["poll_delay_s"],
            queue_read_limit=tuning["queue_read_limit"],
            keep_result=tuning["keep_result_s"],
            log_results=tuning["log_results"],
            **serializer,
        )
        cpu0 = time.process_time()
        try:
            await worker.async_run()
        finally:
            await worker.close()
        return time.time(), worker.jobs_complete, time.process_time() - cpu0

    if tuning["loop"] == "uvloop":
        out.put(uvloop.run(run()))
    else:
        out.put(asyncio.run(run()))


async def enqueue(queue_name: str, prefix: str, jobs: int, json_jobs: bool) -> float:
    """Seconds to enqueue `jobs` no-ops, ENQUEUE_CONCURRENCY at a time."""
    serializer: dict[str, Any] = (
        {"job_serializer": dumps, "job_deserializer": loads} if json_jobs else {}
    )
    redis = await create_pool(REDIS, default_queue_name=queue_name, **serializer)
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


def redis_counters() -> tuple[int, float]:
    """Redis-wide WATCH calls and CPU seconds so far (other clients of this Redis add a little)."""
    client = redis.Redis(host=REDIS_HOST, port=REDIS.port)
    try:
        # redis-py types its sync and async clients' replies alike
        stats = cast(dict[str, Any], client.info("commandstats"))
        watch = stats.get("cmdstat_watch", {}).get("calls", 0)
        cpu = cast(dict[str, Any], client.info("cpu"))
        return int(watch), float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])
    finally:
        client.close()


def drain(tuning: Tuning, workers: int, jobs: int, job_ms: float) -> dict[str, float]:
    run = uuid.uuid4().hex[:8]
    queue_name, prefix = f"bench:arq-noop:{run}", f"bench-noop-{run}-"
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(queue_name, asdict(tuning), job_ms, barrier, out))
        for _ in range(workers)
    ]
    try:
        enqueue_s = asyncio.run(enqueue(queue_name, prefix, jobs, tuning.json_jobs))
        for proc in procs:
            proc.start()
        barrier.wait()
        start, before = time.time(), redis_counters()
        ends = [out.get() for _ in procs]
        after = redis_counters()
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
        "tries": (after[0] - before[0]) / jobs,  # a worker WATCHes a job's key to try to take it
        "redis_cpu_ms": 1000 * (after[1] - before[1]) / jobs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--workers", default="1,2", help="worker process counts to try")
    parser.add_argument("--only", help="setting names separated by ; (arq defaults always run)")
    parser.add_argument(
        "--job-ms", type=float, default=0.0, help="each job waits this long (a letter: 50-100)"
    )
    args = parser.parse_args()
    warn_if_busy()
    chosen = [
        t for t in TUNINGS if not args.only or t is TUNINGS[0] or t.name in args.only.split(";")
    ]
    print(
        f"{args.jobs:,} no-op jobs ({args.job_ms:g} ms each), Redis 127.0.0.1:6379/15; {os.cpu_count()} cores; "
        f"hiredis installed: {HIREDIS_AVAILABLE}"
    )
    print(
        f"{'setting':<20}{'workers':>8}{'jobs/s':>8}{'× defaults':>11}{'worker CPU ms/job':>18}"
        f"{'Redis CPU ms/job':>17}{'tries/job':>10}{'enqueued/s':>11}{'load avg':>9}",
        flush=True,
    )
    baseline: dict[int, float] = {}  # arq's defaults, same worker count, same run
    for tuning in chosen:
        for workers in (int(w) for w in args.workers.split(",")):
            r = drain(tuning, workers, args.jobs, args.job_ms)
            ratio = r["rate"] / baseline.setdefault(workers, r["rate"])
            print(
                f"{tuning.name:<20}{workers:>8}{r['rate']:>8.0f}{ratio:>11.2f}{r['cpu_ms']:>18.3f}"
                f"{r['redis_cpu_ms']:>17.3f}{r['tries']:>10.2f}{r['enqueue_rate']:>11.0f}"
                f"{os.getloadavg()[0]:>9.1f}",
                flush=True,
            )
    for tuning in chosen[1:]:
        print(f"\n{tuning.name}: " + ", ".join(f"{k}={v}" for k, v in asdict(tuning).items()))


if __name__ == "__main__":
    main()
