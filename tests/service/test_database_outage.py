"""The database goes away mid-run (issue 13, finding 8): no email twice, and back soon after it.

Against a PostgreSQL server of the test's own (tests/pgserver.py), stopped and started again while
the worker task runs, and the real SMTP sink counting what it received by Message-ID.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from arq.worker import Retry

from channels.base import Outgoing, Receipt
from comms.app import App, build_app
from comms.embedded import Embedded, embedded_services
from comms.ledger import Filters, Ledger
from comms.models import ChannelName, Status
from comms.queue import Queue
from comms.service.deliver import Deliverer
from comms.service.guard import Guard
from comms.service.intake import Intake
from comms.settings import Settings, load_settings
from tests.commands import comms
from tests.pgserver import PgServer, own_pg_url, pg_server  # noqa: F401 - fixtures
from tests.service.conftest import Stack, api_users, event, wait_for

OUTAGE_S = 2.0  # how long the database stays away after the SMTP server confirmed


@pytest.fixture
def service_settings(tmp_path: Path, redis_url: str, own_pg_url: str) -> Settings:  # noqa: F811
    """The service's settings on the test's own PostgreSQL, with the production backoff."""
    return load_settings(
        environment="test",
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        api_users=api_users(),
        database_url=own_pg_url,
        retry_base_s=30.0,
        retry_max_delay_s=60.0,
    )


@pytest.fixture
async def world(service_settings: Settings) -> AsyncIterator[tuple[App, Embedded, Queue]]:
    with embedded_services(service_settings) as emb:
        app = build_app(emb.settings)
        queue = Queue.from_settings(emb.settings)
        async with app:
            yield app, emb, queue
        await queue.close()


def _message_ids(emb: Embedded) -> Counter[str]:
    return Counter(str(m["Message-ID"]) for m in emb.smtp.messages())


async def test_a_blip_after_the_smtp_server_confirmed_sends_the_email_once(
    world: tuple[App, Embedded, Queue],
    pg_server: PgServer,  # noqa: F811
) -> None:
    app, emb, queue = world
    await Intake(app, queue).take(
        event("contribution-notice-nl", "blip-test-0001"), source="t", door="python"
    )
    email = app.channels[ChannelName.EMAIL]
    send = email.send

    async def then_the_database_restarts(outgoing: Outgoing) -> Receipt:
        receipt = await send(outgoing)  # the real send: the sink has the message now
        await asyncio.to_thread(pg_server.stop)
        pg_server.start_after(OUTAGE_S)
        return receipt

    email.send = then_the_database_restarts  # type: ignore[method-assign]
    run = Deliverer(app, Guard(queue.redis), emb.settings)
    verdict: str | None = None
    for job_try in range(1, 4):  # what arq does: run again after a Retry
        try:
            verdict = await run("blip-test-0001", job_try)
            break
        except Retry:
            email.send = send  # type: ignore[method-assign]
            await asyncio.to_thread(wait_for, lambda: _answers(app), 30, "the database to be back")
    assert verdict == "sent"
    [(message_id, copies)] = _message_ids(emb).items()
    assert copies == 1, f"{message_id} reached the SMTP server {copies} times"
    handed = [e for e in app.ledger.history("blip-test-0001") if e.status is Status.DISPATCHED]
    assert len(handed) == 1 and str(handed[0].communication_id) in message_id


async def test_a_database_outage_is_retried_sooner_than_a_channel_failure(
    world: tuple[App, Embedded, Queue],
    pg_server: PgServer,  # noqa: F811
) -> None:
    app, emb, queue = world
    await Intake(app, queue).take(
        event("contribution-notice-nl", "outage-test-0001"), source="t", door="python"
    )
    run = Deliverer(app, Guard(queue.redis), emb.settings)
    pg_server.stop()
    try:
        started = time.monotonic()
        with pytest.raises(Retry) as outage:
            await run("outage-test-0001", 1)
        assert time.monotonic() - started < 10
    finally:
        pg_server.start()
    emb.smtp.fail_next("451 4.3.0 try again later", count=10)
    with pytest.raises(Retry) as channel:
        await run("outage-test-0001", 2)
    assert channel.value.defer_score is not None and outage.value.defer_score is not None
    assert outage.value.defer_score <= 1000 < channel.value.defer_score
    assert channel.value.defer_score >= 30_000  # COMMS_RETRY_BASE_S stays the channel's


def _answers(app: App) -> bool:
    try:
        app.ledger.ping()
    except Exception:
        return False
    return True


def test_post_events_during_an_outage_answers_503_and_logs_one_line_each(
    stack: Stack,
    pg_server: PgServer,  # noqa: F811
) -> None:
    assert stack.settings.database_url.startswith("postgresql")
    api = stack.start_api(database_url=stack.settings.database_url)
    body = json.dumps(event("contribution-notice-nl", "outage-http-0001"))
    pg_server.stop()
    try:
        with httpx.Client(base_url=stack.api_url, headers=stack.headers(), timeout=30) as client:
            answers = [client.post("/events", content=body) for _ in range(3)]
    finally:
        pg_server.start()
    for answer in answers:  # each answered, the next one too, on a new connection
        assert answer.status_code == 503
        assert answer.headers["connection"] == "close"
        assert int(answer.headers["retry-after"]) > 0
        assert answer.json() == {"detail": "the database is unavailable; try again shortly"}
    log = api.tail(400)
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    lines = [json.loads(line) for line in log.splitlines() if "database unavailable" in line]
    assert len(lines) == 3 and {line["level"] for line in lines} == {"warning"}
    assert "85073003328" not in log and "An Peeters" not in log
    assert stack.post(event("contribution-notice-nl", "outage-http-0001")).status_code == 202


def test_comms_enqueue_stops_cleanly_when_the_database_goes_and_a_rerun_is_safe(
    service_settings: Settings,
    tmp_path: Path,
    pg_server: PgServer,  # noqa: F811
) -> None:
    count = 2000  # enough that the outage falls mid-file on a loaded machine too
    path = tmp_path / "events.jsonl"
    lines = (json.dumps(event("tax-certificate-nl", f"enq-out-{n:06d}")) for n in range(count))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    env = {
        "PATH": "/usr/bin:/bin",
        "COLUMNS": "200",
        "COMMS_ENVIRONMENT": "test",
        "COMMS_DATA_DIR": str(service_settings.data_dir),
        "COMMS_REDIS_URL": service_settings.redis_url,
        "COMMS_DATABASE_URL": service_settings.database_url,
    }
    argv = [sys.executable, "-m", "comms.cli", "enqueue", str(path)]
    ledger = Ledger.from_settings(service_settings)
    ledger.migrate()
    proc = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        wait_for(lambda: _accepted(ledger) >= 20, 120, "the first events to be accepted", 0.05)
        pg_server.stop()
        out, errors = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        pg_server.start()
    assert proc.returncode == 3, errors
    assert "Traceback" not in out + errors
    accepted = _accepted(ledger)
    said = re.search(r"Accepted (\d+), duplicates 0, rejected 0, conflicts 0", out)
    assert said is not None, out
    # One more in the ledger than said is possible: a COMMIT that landed as the server went.
    assert 20 <= int(said[1]) <= accepted <= int(said[1]) + 1 and accepted < count
    assert "The database became unavailable at line" in errors
    assert "Re-running the same file is safe" in errors

    rerun = comms(tmp_path, "enqueue", str(path), env=env)  # the same command, in this process
    assert rerun.returncode == 0, rerun.stderr
    assert f"Accepted {count - accepted}, duplicates {accepted}," in rerun.stdout
    assert _accepted(ledger) == count
    ledger.close()


def _accepted(ledger: Ledger) -> int:
    return ledger.count(Filters(status=Status.ACCEPTED))
