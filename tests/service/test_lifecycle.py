"""Worker life: SIGTERM drains or safely re-runs, decisions overtake bulk runs, crashers are set aside."""

from __future__ import annotations

import signal
import sys
from pathlib import Path

import pytest
from arq.constants import in_progress_key_prefix

from comms.service.guard import LOCK_PREFIX
from comms.service.jobs import job_id
from tests.commands import comms
from tests.service.conftest import REPO, WORKERS_B, Stack, event, wait_for

# Real processes on a shared machine: pytest's default 300 s per test is too tight under load.
pytestmark = [
    pytest.mark.heavy,
    WORKERS_B,
    pytest.mark.timeout(600),
]

CRASHING_WORKER = Path(__file__).with_name("crashing_worker.py")


def latest_states(stack: Stack, ids: set[str]) -> dict[str, str]:
    return {i: stack.ledger.history(i)[-1].status.value for i in ids}


def test_sigterm_drains_in_flight_work_then_a_new_worker_finishes_the_rest(stack: Stack) -> None:
    stack.start_api()
    worker = stack.start_worker(shutdown_grace_s=30)
    events = [event("tax-certificate-nl", f"term-{i:06d}") for i in range(30)]
    ids = {e["event_id"] for e in events}
    assert set(stack.post_many(events)) == {202}
    wait_for(lambda: len(stack.sent_rows()) >= 3, 150, "three events sent")

    assert stack.stop(worker, signal.SIGTERM, timeout_s=40) == 0
    # Drained: whatever was in flight finished; the rest was never started and is still queued.
    states = latest_states(stack, ids)
    assert set(states.values()) <= {"accepted", "dispatched"}, states
    waiting = sum(1 for s in states.values() if s == "accepted")
    assert waiting > 0, "the batch ended before SIGTERM: nothing was tested"
    queued = [j for j in stack.redis().zrange("comms:bulk", 0, -1) if j.startswith(b"deliver:")]
    assert len(queued) == waiting

    # No grace: in-flight runs are cancelled and handed back to the queue, to be run again.
    impatient = stack.start_worker(shutdown_grace_s=0)
    wait_for(lambda: len(stack.sent_rows()) >= len(ids) - waiting + 2, 150, "two more sent")
    assert stack.stop(impatient, signal.SIGTERM, timeout_s=40) == 0

    last = stack.start_worker()
    stack.wait_sent(ids, 300, [last])
    sent = stack.sent_rows()
    assert all(sent[i] == 1 for i in ids)
    assert len(set(stack.mail_ids())) == len(ids)


def test_a_decision_posted_during_a_bulk_run_is_sent_before_the_run_ends(stack: Stack) -> None:
    stack.start_api()
    worker = stack.start_worker()
    bulk = [event("tax-certificate-nl", f"bulk-{i:06d}") for i in range(50)]
    bulk_ids = {e["event_id"] for e in bulk}
    assert set(stack.post_many(bulk)) == {202}
    wait_for(lambda: len(stack.sent_rows()) >= 5, 150, "the bulk run to start")

    assert stack.post(event("decision-fr", "urgent-decision-1")).status_code == 202
    stack.wait_sent({"urgent-decision-1"}, 150, [worker])
    bulk_sent_then = len(set(stack.sent_rows()) & bulk_ids)
    assert bulk_sent_then < len(bulk_ids) - 15, "the decision waited for the bulk run"
    assert stack.sent_by_channel()["urgent-decision-1"] == ["ebox"]

    stack.wait_sent(bulk_ids, 300, [worker])


def test_an_event_that_crashes_its_worker_three_times_is_quarantined(stack: Stack) -> None:
    stack.start_api()
    poison = "poison-letter-01"
    assert stack.post(event("tax-certificate-nl", poison)).status_code == 202
    # A short job timeout: arq hands a crashed job out again after it + 10 s. The crash is in the
    # worker's own process, so it renders there (a dead render process is tests/compose/test_pool).
    settings = {"job_timeout_s": 3, "stuck_after_s": 60, "render_pool": "false"}
    command = [sys.executable, str(CRASHING_WORKER)]

    def quarantined() -> bool:
        return stack.ledger.history(poison)[-1].status.value == "failed"

    crashes = 0
    while not quarantined():
        assert crashes <= 3, "still not quarantined after three crashes"
        worker = stack.start_worker(
            command=command, extra_env={"POISON_EVENT_ID": poison}, wait=False, **settings
        )
        wait_for(lambda w=worker: not w.alive() or quarantined(), 150, "a crash or the quarantine")
        if not worker.alive():
            assert worker.popen.returncode == -signal.SIGKILL
            crashes += 1
            if crashes > 1:
                # The first crash waits out arq's claim (job timeout + 10 s) and the event's lock
                # (job timeout + 5 s) as production does; after the others both are expired by
                # hand, as that wait would, 13 s sooner.
                claim, lock = in_progress_key_prefix + job_id(poison), LOCK_PREFIX + poison
                assert stack.redis().delete(claim, lock) == 2
    assert crashes == 3
    failed = stack.ledger.history(poison)[-1]
    assert failed.communication_id is None and failed.evidence["quarantined"] == "true"
    assert failed.evidence["crashes"] == "3" and "quarantined" in (failed.reason or "")
    assert stack.get_status(poison)["outcome"] == "dead_letter"

    # The surviving worker goes on with healthy letters.
    assert stack.post(event("tax-certificate-nl", "healthy-letter-1")).status_code == 202
    stack.wait_sent({"healthy-letter-1"}, 150, [worker])
    assert poison not in stack.sent_rows()

    # Operators see it.
    listing = comms(REPO, "dlq", "list", env=stack.env())
    assert listing.returncode == 0, listing.stderr
    assert poison in listing.stdout and "quarantined" in listing.stdout
