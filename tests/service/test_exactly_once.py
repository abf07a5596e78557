"""Exactly-once effect with real workers: a batch, repeats, a killed worker, a flushed Redis.

The batch is as big as it needs to be for two workers to take events side by side for several
seconds, longer than arq keeps a result here; the thousand-event run is `bench/exactly_once.py`
(COMMS_EXACTLY_ONCE_EVENTS sets the size).
"""

from __future__ import annotations

import asyncio
import os
import signal
import time

import pytest

from comms.queue import Queue
from tests.service.conftest import WORKERS_A, Stack, event, wait_for

# Real processes on a shared machine: pytest's default 300 s per test is too tight under load.
pytestmark = [
    pytest.mark.heavy,
    WORKERS_A,
    pytest.mark.timeout(600),
]

BATCH = int(os.environ.get("COMMS_EXACTLY_ONCE_EVENTS", "60"))
KEEP_RESULT_S = 2  # arq forgets a finished job this soon, here


def tax_certificates(prefix: str, count: int) -> list[dict]:
    """The fastest letter to render (one page), by email: the SMTP server counts what it got."""
    return [event("tax-certificate-nl", f"{prefix}-{i:06d}") for i in range(count)]


def mixed(prefix: str, count: int) -> list[dict]:
    """Email (tax certificates) and eBox (French notices): both channels recognise a repeat."""
    names = ("tax-certificate-nl", "contribution-notice-fr")
    return [event(names[i % 2], f"{prefix}-{i:06d}") for i in range(count)]


def assert_each_once(stack: Stack, ids: set[str]) -> None:
    """One sent row per event in the ledger; one distinct Message-ID / Idempotency-Key each."""
    sent = stack.sent_rows()
    assert {i: sent[i] for i in ids if sent[i] != 1} == {}
    by_channel = stack.sent_by_channel()
    emails = sum(1 for i in ids if by_channel[i] == ["email"])
    eboxes = sum(1 for i in ids if by_channel[i] == ["ebox"])
    assert emails + eboxes == len(ids)
    # A run killed between sending and recording sends again, with the same Message-ID: the
    # receiving side recognises it. So: one distinct id per email event.
    assert len(set(stack.mail_ids())) == emails
    keys = stack.ebox_keys()
    assert len(keys) == len(set(keys)) == eboxes  # the eBox refuses a repeated key outright


@pytest.mark.timeout(1200)
def test_a_batch_of_events_is_each_sent_once_and_repeats_send_nothing(stack: Stack) -> None:
    # Results expire after KEEP_RESULT_S, so the last round is posted after arq forgot every job.
    stack.start_api(job_keep_result_s=KEEP_RESULT_S)
    workers = [stack.start_worker(job_keep_result_s=KEEP_RESULT_S) for _ in range(2)]
    events = tax_certificates("k", BATCH)
    ids = {e["event_id"] for e in events}

    started = time.monotonic()
    assert set(stack.post_many(events)) == {202}
    stack.wait_sent(ids, 900, workers)
    elapsed = time.monotonic() - started
    assert_each_once(stack, ids)
    assert len(stack.mail_ids()) == BATCH
    assert elapsed > KEEP_RESULT_S, "the batch ran faster than arq forgets: make it bigger"
    for w in workers:  # both took part: two workers claimed from one queue
        assert "email dispatched" in w.log.read_text(errors="replace"), w.tail()
    rows = stack.row_count()
    print(f"\n{BATCH} events sent in {elapsed:.1f} s ({BATCH / elapsed:.1f}/s, 2 workers)")

    # The same events again: the same answers (202, duplicate), and nothing new anywhere.
    assert set(stack.post_many(events)) == {202}
    wait_for(stack.queues_drained, 30, "the queues to drain")

    # Again after arq's results expired, and this time with every job forced onto the queue as a
    # redelivery would (the door alone would not queue events the ledger shows done).
    time.sleep(KEEP_RESULT_S + 1)
    assert not stack.redis().keys("arq:result:deliver:*")
    assert set(stack.post_many(events)) == {202}

    async def force() -> None:
        queue = Queue.from_settings(stack.settings)
        try:
            for e in events:
                assert await queue.put(e["event_id"], e["type"])
        finally:
            await queue.close()

    forced = time.monotonic()
    asyncio.run(force())
    wait_for(stack.queues_drained, 300, "the redelivered jobs to run")
    print(f"{BATCH} redelivered jobs ran in {time.monotonic() - forced:.1f} s, sending nothing")
    assert stack.row_count() == rows  # the ledger has nothing to add
    assert len(stack.mail_ids()) == BATCH
    assert_each_once(stack, ids)
    for w in workers:
        assert stack.stop(w) == 0


def test_a_worker_killed_mid_batch_and_restarted_sends_each_once(stack: Stack) -> None:
    # arq hands a killed worker's job out again after its timeout + 10 s: keep the timeout short.
    settings = {"job_timeout_s": 8, "stuck_after_s": 60}
    stack.start_api()
    worker = stack.start_worker(**settings)
    events = mixed("kill", 40)
    ids = {e["event_id"] for e in events}
    assert set(stack.post_many(events)) == {202}

    wait_for(lambda: len(stack.sent_rows()) >= 10, 150, "ten events sent")
    worker.popen.send_signal(signal.SIGKILL)  # no chance to finish or clean up anything
    worker.popen.wait(timeout=10)
    before = len(stack.sent_rows())
    assert before < len(ids), "the batch ended before the kill: nothing was tested"

    restarted = stack.start_worker(**settings)
    stack.wait_sent(ids, 300, [restarted])
    assert_each_once(stack, ids)
    assert stack.ledger.verify().ok


def test_a_redis_flush_mid_batch_is_repaired_by_the_sweeper(stack: Stack) -> None:
    # FLUSHDB, not FLUSHALL: the other test processes keep their own databases on this server.
    settings = {"job_timeout_s": 8, "stuck_after_s": 10, "sweep_every_s": 2}
    stack.start_api()
    worker = stack.start_worker(worker_jobs_bulk=2, **settings)
    events = mixed("flush", 40)
    ids = {e["event_id"] for e in events}
    assert set(stack.post_many(events)) == {202}

    wait_for(lambda: len(stack.sent_rows()) >= 10, 150, "ten events sent")
    stack.redis().flushdb()
    lost = len(ids) - len(stack.sent_rows())
    assert lost > 0, "the batch ended before the flush: nothing was tested"

    stack.wait_sent(ids, 300, [worker])
    assert_each_once(stack, ids)
    assert "sweeper re-enqueued waiting events" in worker.tail(2000)
