"""A stop asked for is a stop: a worker still running past its grace period is cancelled again.

arq cancels a worker's poll loop once the grace is over; on Python 3.11 that cancellation can be
lost inside redis-py (its `asyncio.wait_for`), and a worker took one more job and polled on until
it was killed. `run_until_stopped` is the backstop; tests/service/test_claims.py the claim side.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from comms import worker as worker_module
from comms.worker import run_until_stopped

MARGIN_S = 0.2


@pytest.fixture(autouse=True)
def short_margin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "STOP_MARGIN_S", MARGIN_S)


async def loses_its_first_cancellation(cancelled: list[float]) -> None:
    """Like the poll loop that lost arq's cancellation: goes on after the first, ends at the next."""
    for _ in range(2):
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.append(time.monotonic())
    raise asyncio.CancelledError


async def test_a_worker_still_running_after_the_grace_is_cancelled_until_it_ends() -> None:
    stop = asyncio.Event()
    cancelled: list[float] = []
    run = asyncio.create_task(
        run_until_stopped({"bulk": loses_its_first_cancellation(cancelled)}, stop, grace_s=0.3)
    )
    await asyncio.sleep(0.5)
    assert not run.done() and cancelled == []  # nobody asked it to stop: it runs on
    asked = time.monotonic()
    stop.set()
    await asyncio.wait_for(run, timeout=10)
    assert len(cancelled) == 2
    assert cancelled[0] - asked >= 0.3 + MARGIN_S  # the grace was given first
    assert cancelled[1] - cancelled[0] >= MARGIN_S * 0.9


async def test_workers_that_end_on_their_own_are_left_alone() -> None:
    stop = asyncio.Event()
    ended: list[str] = []

    async def finishes(name: str, after_s: float) -> None:
        await asyncio.sleep(after_s)
        ended.append(name)

    started = time.monotonic()
    await run_until_stopped(
        {"urgent": finishes("urgent", 0.1), "bulk": finishes("bulk", 0.2)}, stop, grace_s=30
    )
    assert ended == ["urgent", "bulk"]
    assert time.monotonic() - started < 5  # no grace or margin waited for: no stop was asked


async def test_a_worker_whose_loop_fails_stops_the_process_and_the_other_queue() -> None:
    other_cancelled = asyncio.Event()

    async def fails() -> None:
        await asyncio.sleep(0.1)
        raise ConnectionError("Redis went away")

    async def polls_on() -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            other_cancelled.set()
            raise

    with pytest.raises(ConnectionError):
        await asyncio.wait_for(
            run_until_stopped({"urgent": fails(), "bulk": polls_on()}, asyncio.Event(), 30), 10
        )
    await asyncio.sleep(0)
    assert other_cancelled.is_set()
