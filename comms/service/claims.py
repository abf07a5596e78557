"""An arq `Worker` that does not try to claim jobs it can already see are running.

arq leaves a running job's id at the head of its queue until the job ends, and at every poll a
worker with a free slot walks the head id by id: a WATCH, EXISTS and ZSCORE per id (three round
trips) just to find each one running, its own or another worker's. With N workers that walk grows
with N × slots at every poll. Here the ids a poll read are first sifted: the worker's own live
jobs locally, the others with one MGET of their in-progress keys. arq's own claim still decides
(a job that starts elsewhere after the MGET still loses its WATCH), so nothing else changes.
Measured in docs/performance.md ("Claiming jobs").

It also keeps a stop a stop. The candidates are claimed one at a time and none once the worker
was told to stop. And a cancellation that Python 3.11 lost on the way is raised here: redis-py
sends each command under `asyncio.wait_for` (the client has a socket timeout), and 3.11's
`wait_for` drops a cancellation that comes just as the send completes. arq cancels its poll
loop once to end a worker, so a lost one left a worker taking one more job, then polling on
until it was killed (`comms.worker.run_until_stopped` is the backstop for the other awaits).
"""

from __future__ import annotations

import asyncio
import inspect

from arq.constants import in_progress_key_prefix
from arq.worker import Worker


def sifting_supported() -> bool:
    """`Worker.start_jobs(job_ids)` is arq's own, not public: the override holds only while arq
    still has it with that shape (pyproject pins the versions it was measured on)."""
    start_jobs = getattr(Worker, "start_jobs", None)
    if start_jobs is None or not inspect.iscoroutinefunction(start_jobs):
        return False
    return list(inspect.signature(start_jobs).parameters) == ["self", "job_ids"]


def raise_lost_cancellation() -> None:
    """Raises the CancelledError that an `asyncio.wait_for` below us swallowed (Python 3.11).

    A cancellation requested and never delivered leaves the task's `cancelling()` count up;
    nothing in arq's poll loop asks for that count back (`uncancel`), so it means a lost one.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class SiftingWorker(Worker):
    """arq's Worker, minus the round trips spent on jobs that are plainly running already."""

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        for job_id in await self._not_running(job_ids):
            raise_lost_cancellation()
            if not self.allow_pick_jobs or self.job_counter >= self.max_jobs:
                return
            await super().start_jobs([job_id])
        raise_lost_cancellation()

    async def _not_running(self, job_ids: list[bytes]) -> list[bytes]:
        mine = {job_id for job_id, task in self.tasks.items() if not task.done()}
        candidates = [job_id for job_id in job_ids if job_id.decode() not in mine]
        if not candidates:
            return []
        keys = [in_progress_key_prefix + job_id.decode() for job_id in candidates]
        markers = await self.pool.mget(keys)
        return [job_id for job_id, marker in zip(candidates, markers, strict=True) if not marker]
