"""Channel failures through real workers: 4xx retried until the server recovers, 5xx falls back."""

from __future__ import annotations

import pytest

from tests.net import HTTP, free_port
from tests.service.conftest import PERSONAL, WORKERS_B, Stack, event, wait_for

# Real processes on a shared machine: pytest's default 300 s per test is too tight under load.
pytestmark = [
    pytest.mark.heavy,
    WORKERS_B,
    pytest.mark.timeout(600),
]


def test_smtp_4xx_is_retried_until_it_recovers_and_5xx_falls_back_to_post(stack: Stack) -> None:
    stack.start_api()
    metrics_port = free_port()
    worker = stack.start_worker(worker_metrics_port=metrics_port)

    # The SMTP server answers 451 to five messages: each run's failure defers the job (no run
    # sleeps in its slot), and the sixth run delivers it.
    stack.emb.smtp.fail_next("451 4.3.0 try again later", count=5)
    assert stack.post(event("contribution-notice-nl", "fail-4xx-0000001")).status_code == 202
    stack.wait_sent({"fail-4xx-0000001"}, 150, [worker])
    history = stack.ledger.history("fail-4xx-0000001")
    retries = [e for e in history if e.reason and e.reason.startswith("transient failure")]
    assert retries and "451" in (retries[0].reason or "")
    assert retries[0].evidence["attempt"] == "1"
    assert [e.status.value for e in history][-1] == "dispatched"
    assert len(stack.mail_ids()) == 1

    # Now a permanent refusal of the recipient: the notice goes by post instead.
    stack.emb.smtp.fail_next("550 5.1.1 {address}: mailbox unknown", stage="rcpt")
    assert stack.post(event("contribution-notice-nl", "fail-5xx-0000001")).status_code == 202
    stack.wait_sent({"fail-5xx-0000001"}, 150, [worker])
    rows = [
        (e.channel and e.channel.value, e.status.value)
        for e in stack.ledger.history("fail-5xx-0000001")
    ]
    assert ("email", "failed") in rows and ("email", "superseded") in rows
    assert rows[-1] == ("post", "dispatched")
    failed = next(e for e in stack.ledger.history("fail-5xx-0000001") if e.status.value == "failed")
    assert failed.evidence["smtp_code"] == "550" and "an.peeters" not in str(dict(failed.evidence))
    assert len(stack.mail_ids()) == 1  # nothing more by email

    # The producer reads the same story over HTTP.
    status = stack.get_status("fail-5xx-0000001")
    assert status["outcome"] == "sent"
    assert {d["channel"]: d["state"] for d in status["deliveries"]} == {
        "email": "superseded",
        "post": "dispatched",
    }
    # The worker's own Prometheus endpoint: render and send latency, deliveries, retries.
    metrics = HTTP.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
    assert 'comms_render_seconds_count{type="contribution_notice"} 2.0' in metrics
    assert 'comms_deliveries_total{channel="post",state="dispatched"} 1.0' in metrics
    assert 'comms_send_seconds_count{channel="email",outcome="transient"}' in metrics
    assert 'comms_retries_total{channel="email"} 5.0' in metrics
    assert stack.stop(worker) == 0
    logs = stack.all_logs()
    assert "transient failure" in logs or "retrying job" in logs
    for value in PERSONAL:
        assert value not in logs


def test_a_channel_failing_past_its_budget_falls_back(stack: Stack) -> None:
    # Budget of 2 s, backoff capped at 1 s: the email is retried, then given up for post.
    worker = stack.start_worker(retry_budget_s=2)
    stack.start_api()
    stack.emb.smtp.fail_next("421 4.3.2 service not available", count=1000)
    assert stack.post(event("contribution-notice-nl", "fail-bdg-0000001")).status_code == 202
    stack.wait_sent({"fail-bdg-0000001"}, 150, [worker])
    history = stack.ledger.history("fail-bdg-0000001")
    failed = next(e for e in history if e.status.value == "failed")
    assert failed.channel and failed.channel.value == "email"
    assert "budget spent" in (failed.reason or "")
    assert stack.sent_by_channel()["fail-bdg-0000001"] == ["post"]
    stack.emb.smtp.fail_next("250 ok", count=0)
    wait_for(stack.queues_drained, 10, "the queues to drain")
