"""The arq settings measured in docs/performance.md reach arq's Worker, and the loop is uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import pytest
import uvloop
from arq.worker import Worker

from comms import worker as worker_module
from comms.service.jobs import QUEUES, QueueKey
from comms.settings import Settings, load_settings
from comms.worker import Runtime, serve, worker_settings


def settings(tmp_path: Path, **changes: Any) -> Settings:
    # Nothing connects: the Redis client is lazy and no worker runs.
    return load_settings(
        environment="test", data_dir=tmp_path, redis_url="redis://127.0.0.1:6379/15", **changes
    )


@pytest.mark.parametrize("queue", ["urgent", "bulk"])
async def test_arq_worker_polls_as_configured(tmp_path: Path, queue: QueueKey) -> None:
    configured = settings(
        tmp_path,
        worker_poll_delay_s=0.2,
        worker_queue_read_limit=300,
        worker_jobs_urgent=3,
        worker_jobs_bulk=5,
        job_keep_result_s=42,
    )
    kwargs = worker_settings(configured, queue, cast(Runtime, object()))
    worker = Worker(**kwargs)
    try:
        assert worker.queue_name == QUEUES[queue]
        assert worker.poll_delay_s == 0.2
        assert worker.queue_read_limit == 300
        assert worker.max_jobs == (3 if queue == "urgent" else 5)
        assert worker.keep_result_s == 42
    finally:
        await kwargs["redis_pool"].aclose()


@pytest.mark.parametrize("uvloop_on", [True, False])
def test_serve_runs_the_workers_on_the_chosen_loop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, uvloop_on: bool
) -> None:
    seen: list[tuple[type, Sequence[QueueKey], bool]] = []

    async def run_workers(
        _: Settings, queues: Sequence[QueueKey], *, burst: bool, redis_wait_s: float
    ) -> None:
        seen.append((type(asyncio.get_running_loop()), queues, burst))

    monkeypatch.setattr(worker_module, "run_workers", run_workers)
    serve(settings(tmp_path, worker_uvloop=uvloop_on), ["bulk"], burst=True)
    [(loop, queues, burst)] = seen
    assert issubclass(loop, uvloop.Loop) is uvloop_on
    assert (queues, burst) == (["bulk"], True)
