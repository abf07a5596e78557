"""`comms worker`: arq workers for the urgent and the bulk queue in one process, over one app.

An arq `Worker` reads one queue. A process runs one per queue it serves (both by default), each
with its own job slots, so a decision starts at once even while every bulk slot renders notices.
The sweeper cron lives with the urgent queue, whose jobs never wait behind a bulk run. Scale by
running more processes, on any machine: nothing here assumes it is alone (arq hands each job to
one worker; the per-event lock covers the rest).

SIGTERM and SIGINT stop both workers from taking new jobs and give in-flight events
`shutdown_grace_s` to finish; what is still running then is cancelled and arq re-queues it, to be
resumed from the ledger by the next worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import uvloop
from arq.cron import cron
from arq.worker import Worker, func
from prometheus_client import start_http_server
from redis.exceptions import RedisError

from comms import tracking
from comms.app import App, build_app, build_channels, build_composer
from comms.compose.pool import RenderPool
from comms.events import AnyEvent
from comms.logging import get_logger
from comms.models import Message
from comms.queue import Queue, redis_client
from comms.runner import RetryPolicy
from comms.service.claims import SiftingWorker, sifting_supported
from comms.service.deliver import Deliverer
from comms.service.guard import Guard
from comms.service.instrument import timed_channels, timed_composer, timed_render
from comms.service.jobs import DELIVER_TASK, QUEUES, SWEEP_TASK, QueueKey, dumps, loads
from comms.service.sweeper import Sweeper
from comms.settings import Settings

log = get_logger(__name__)

# Our own time budget and quarantine decide when to stop; arq's cap on tries is only a backstop.
ARQ_MAX_TRIES = 10_000
HEALTH_CHECK_INTERVAL_S = 60  # arq writes `<queue>:health-check` this often
CHANNEL_CLOSE_TIMEOUT_S = 5.0  # at shutdown, after in-flight events finished or were cancelled
STOP_MARGIN_S = 5.0  # past the grace period, arq has had its turn to cancel its own jobs
REDIS_FIRST_RETRY_S = 1.0  # at start, Redis unreachable: retry after this, doubling up to
REDIS_LONGEST_RETRY_S = 16.0


class RedisUnreachable(Exception):
    """Redis did not answer within the start-up wait; the message names where, never a password."""


def redis_address(url: str) -> str:
    """`host:port/db` (or a socket path) of a Redis URL, without its credentials."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        return parts.path
    db = parts.path.strip("/") or "0"
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 6379}/{db}"


async def wait_for_redis(url: str, limit_s: float) -> None:
    """Containers start before their dependencies: ping with doubling waits, one line per miss."""
    where = redis_address(url)
    client = redis_client(url)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    backoff = RetryPolicy(REDIS_FIRST_RETRY_S, REDIS_LONGEST_RETRY_S)
    attempt = 0
    try:
        while True:
            attempt += 1
            try:
                await client.ping()
                return
            except (RedisError, OSError) as exc:
                left = deadline - loop.time()
                if left <= 0:
                    raise RedisUnreachable(
                        f"Redis at {where} did not answer within {limit_s:g} s"
                        f" ({type(exc).__name__}); giving up"
                    ) from None
                wait = min(backoff.delay_s(attempt), left)
                log.warning(
                    "Redis unreachable; retrying",
                    redis=where,
                    error=type(exc).__name__,
                    retry_in_s=round(wait, 1),
                )
                await asyncio.sleep(wait)
    finally:
        await client.aclose(close_connection_pool=True)


@dataclass(frozen=True)
class Runtime:
    """What the tasks find in arq's ctx: built once per process, shared by both workers."""

    app: App
    deliverer: Deliverer
    sweeper: Sweeper


async def deliver(ctx: dict[str, Any], event_id: str) -> str:
    """arq task: one accepted event, by id (the event itself is read from the ledger)."""
    runtime: Runtime = ctx["comms"]
    return await runtime.deliverer(event_id, int(ctx.get("job_try", 1)))


async def sweep(ctx: dict[str, Any]) -> int:
    """arq cron: re-enqueue waiting events that have no live job; returns how many."""
    runtime: Runtime = ctx["comms"]
    return (await runtime.sweeper.sweep()).requeued


async def poll_ebox(ctx: dict[str, Any]) -> int:
    """arq cron: eBox read statuses → `read`, then unread and NO_DIGITAL_USER fallbacks."""
    runtime: Runtime = ctx["comms"]
    return await tracking.poll_ebox_read_status(runtime.app)


async def cut_full_batches(ctx: dict[str, Any]) -> int:
    """arq cron: print batches that reached their size; returns how many were cut."""
    runtime: Runtime = ctx["comms"]
    return (await tracking.cut_print_batches(runtime.app, force=False)).kinds["batches"]


async def cut_all_batches(ctx: dict[str, Any]) -> int:
    """arq cron: on the print shop's schedule, whatever letters wait."""
    runtime: Runtime = ctx["comms"]
    return (await tracking.cut_print_batches(runtime.app, force=True)).kinds["batches"]


def tracking_crons(settings: Settings) -> list[Any]:
    """Channel tracking (issue 4, docs/channels.md): on the bulk queue, they may wait their turn."""
    timeout = settings.job_timeout_s
    return [
        cron(
            poll_ebox,
            name="ebox_poll",
            minute=set(range(0, 60, settings.ebox_poll_every_min)),
            second={0},
            unique=True,
            timeout=timeout,
        ),
        cron(
            cut_full_batches,
            name="post_batch_size",
            minute=set(range(0, 60, 5)),
            second={30},
            unique=True,
            timeout=timeout,
        ),
        cron(
            cut_all_batches,
            name="post_batch_schedule",
            hour=set(settings.post_batch_hours),
            minute={0},
            second={0},
            unique=True,
            timeout=timeout,
        ),
    ]


def sweep_schedule(every_s: int) -> dict[str, set[int]]:
    """arq cron fields for "every `every_s` seconds" (settings checked that it tiles the hour)."""
    if every_s <= 60:
        return {"second": set(range(0, 60, every_s))}
    return {"second": {0}, "minute": set(range(0, 60, every_s // 60))}


def worker_settings(
    settings: Settings, queue: QueueKey, runtime: Runtime, *, burst: bool = False
) -> dict[str, Any]:
    """arq `WorkerSettings` for one queue: JSON jobs, timings from settings (docs/queue.md)."""
    urgent = queue == "urgent"
    sweeper = cron(
        sweep,
        name=SWEEP_TASK,
        unique=True,  # one sweep per tick across every process (the job id is the tick)
        timeout=settings.job_timeout_s,
        **sweep_schedule(settings.sweep_every_s),  # type: ignore[arg-type]
    )
    return {
        "functions": [
            func(
                deliver,
                name=DELIVER_TASK,
                timeout=settings.job_timeout_s,
                keep_result=settings.job_keep_result_s,
                max_tries=ARQ_MAX_TRIES,
            )
        ],
        "cron_jobs": [sweeper] if urgent else tracking_crons(settings),
        "queue_name": QUEUES[queue],
        "redis_pool": redis_client(settings.redis_url),
        "job_serializer": dumps,
        "job_deserializer": loads,
        "max_jobs": settings.worker_jobs_urgent if urgent else settings.worker_jobs_bulk,
        "poll_delay": settings.worker_poll_delay_s,
        "queue_read_limit": settings.worker_queue_read_limit,
        "job_timeout": settings.job_timeout_s,
        "keep_result": settings.job_keep_result_s,
        "max_tries": ARQ_MAX_TRIES,
        "expires_extra_ms": int(settings.job_expires_s * 1000),
        "health_check_interval": HEALTH_CHECK_INTERVAL_S,
        "handle_signals": False,  # one handler drains both workers (see `_on_signal`)
        "job_completion_wait": int(settings.shutdown_grace_s),
        "retry_jobs": True,
        "burst": burst,
        "ctx": {"comms": runtime},
    }


def build_worker_app(settings: Settings, pool: RenderPool | None) -> App:
    """The composition root's app, with render and send latency measured for Prometheus."""
    concrete = build_channels(settings)
    channels = timed_channels(concrete)
    if pool is None:  # render in this process, one letter at a time
        return build_app(
            settings,
            channels=channels,
            wrap_composer=timed_composer,
            lookups=concrete,
        )

    async def render(event: AnyEvent, issued_on: date | None) -> Message:
        return await pool.compose_async(event, issued_on=issued_on)

    return build_app(settings, channels=channels, render=timed_render(render), lookups=concrete)


def start_render_pool(settings: Settings) -> RenderPool:
    """Warm render processes, one per core (docs/performance.md); the pipeline awaits them.

    They build the composition root's composer, so production renders approved versions only.
    """
    return RenderPool(settings, composer_factory=partial(build_composer, settings))


def serve(
    settings: Settings,
    queues: Sequence[QueueKey] = ("urgent", "bulk"),
    *,
    burst: bool = False,
    redis_wait_s: float = 0.0,
) -> None:
    """`comms worker`: `run_workers` on uvloop, which costs less CPU per job (docs/performance.md)."""
    workers = run_workers(settings, queues, burst=burst, redis_wait_s=redis_wait_s)
    if settings.worker_uvloop:
        uvloop.run(workers)
    else:
        asyncio.run(workers)


async def run_workers(
    settings: Settings,
    queues: Sequence[QueueKey] = ("urgent", "bulk"),
    *,
    burst: bool = False,
    redis_wait_s: float = 0.0,
) -> None:
    """Runs until SIGTERM/SIGINT (or, with `burst`, until the queues are empty)."""
    pool = start_render_pool(settings) if settings.render_pool else None
    try:
        app = build_worker_app(
            settings, pool
        )  # a bad setting or key stops it here, before any wait
        await wait_for_redis(settings.redis_url, redis_wait_s)
    except BaseException:
        if pool is not None:
            await asyncio.to_thread(pool.close)
        raise
    if settings.worker_metrics_port:
        start_http_server(settings.worker_metrics_port, addr=settings.worker_metrics_host)
    queue = Queue.from_settings(settings)
    sweeper = Sweeper(
        app.ledger, queue, stuck_after_s=settings.stuck_after_s, batch=settings.sweep_batch
    )
    runtime = Runtime(app, Deliverer(app, Guard(queue.redis), settings), sweeper)
    await app.__aenter__()
    try:
        sift = settings.worker_sift_claims and sifting_supported()
        if settings.worker_sift_claims and not sift:
            log.warning("arq's start_jobs changed: claims are not sifted (comms/service/claims.py)")
        kind = SiftingWorker if sift else Worker
        workers = [kind(**worker_settings(settings, q, runtime, burst=burst)) for q in queues]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, _on_signal, workers, sig, stop)
        log.info(
            "worker started",
            queues=[QUEUES[q] for q in queues],
            burst=burst,
            render_processes=pool.processes if pool else 0,
        )
        try:
            await run_until_stopped(
                {w.queue_name: w.async_run() for w in workers}, stop, settings.shutdown_grace_s
            )
        finally:
            for worker in workers:
                # arq's close gathers the job tasks it cancelled on shutdown: not our cancellation.
                with contextlib.suppress(asyncio.CancelledError):
                    await worker.close()
            await queue.close()
    finally:
        if pool is not None:  # letters still queued were cancelled with their jobs
            await asyncio.to_thread(pool.close)
        await _close_channels(app)
        log.info("worker stopped")


async def _close_channels(app: App) -> None:
    """Closes the channels, but never waits on a connection a cancelled send left half-way.

    A run cancelled in the middle of an SMTP DATA leaves a connection whose polite QUIT can wait
    for the whole SMTP timeout; the process exits instead and the server drops the connection.
    """
    try:
        await asyncio.wait_for(app.__aexit__(None, None, None), CHANNEL_CLOSE_TIMEOUT_S)
    except TimeoutError:
        log.warning("channels did not close in time; exiting anyway")


def _on_signal(workers: Sequence[Worker], sig: signal.Signals, stop: asyncio.Event) -> None:
    """Stop taking jobs; let in-flight ones finish within the grace period; then cancel them."""
    stop.set()
    for worker in workers:
        worker.handle_sig_wait_for_completion(sig)


async def run_until_stopped(
    runs: Mapping[str, Coroutine[Any, Any, None]], stop: asyncio.Event, grace_s: float
) -> None:
    """Runs the arq workers (by queue) to their end; once `stop` is set, ends any past the grace.

    arq ends a worker by cancelling its poll loop once, when the grace is over, and on Python
    3.11 that cancellation can be lost: redis-py sends under `asyncio.wait_for`, which drops a
    cancellation that comes as the send completes (comms/service/claims.py raises it where the
    loop claims jobs). Elsewhere in the loop it would poll on until killed: after the grace and a
    margin, what still runs is cancelled again, as often as it takes. A worker whose loop fails
    stops the process (the other queue's too), so that its supervisor starts a whole one again.
    """
    tasks = {queue: asyncio.create_task(run) for queue, run in runs.items()}

    async def enforce() -> None:
        await stop.wait()
        await asyncio.sleep(grace_s + STOP_MARGIN_S)
        while running := {q: t for q, t in tasks.items() if not t.done()}:
            log.warning(
                "a worker did not stop after the grace period: cancelling it again",
                queues=sorted(running),
            )
            for task in running.values():
                task.cancel()
            await asyncio.wait(running.values(), timeout=STOP_MARGIN_S)

    enforcer = asyncio.create_task(enforce())
    try:
        done, _ = await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_EXCEPTION)
        for queue, task in tasks.items():
            failure = None if task not in done or task.cancelled() else task.exception()
            if failure is not None:
                log.error("a worker's poll loop failed: the process stops", queue=queue)
                raise failure
    finally:
        enforcer.cancel()
        for task in tasks.values():
            task.cancel()  # the other queue's worker, when one failed; a no-op otherwise
