"""One run of the worker task, in-process: bugs count towards quarantine, outages do not."""

from __future__ import annotations

import asyncio
import base64
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from arq.worker import Retry
from pydantic import SecretStr
from sqlalchemy.exc import OperationalError

from channels.smtp_sink import SmtpSink
from comms.app import build_app
from comms.models import Status
from comms.queue import Queue
from comms.service.deliver import Deliverer
from comms.service.guard import Guard
from comms.service.intake import Intake
from comms.settings import Settings
from tests.service.conftest import event


class Failing:
    """A composer that fails the way we tell it to."""

    def __init__(self) -> None:
        self.error: Exception = KeyError("a template bug")

    def compose(self, _event: Any, *, issued_on: date | None = None) -> Any:
        raise self.error


async def test_bugs_count_towards_quarantine_and_outages_do_not(
    service_settings: Settings,
) -> None:
    app = build_app(service_settings)
    queue = Queue.from_settings(service_settings)
    failing = Failing()
    app.pipeline.services.composer = failing  # type: ignore[assignment]
    guard = Guard(queue.redis)
    run = Deliverer(app, guard, service_settings)
    try:
        await Intake(app, queue).take(
            event("tax-certificate-nl", "crash-test-0001"), source="t", door="python"
        )

        failing.error = OperationalError("SELECT 1", {}, Exception("database away"))
        for attempt in range(1, 6):
            with pytest.raises(Retry):
                await run("crash-test-0001", attempt)
        assert await guard.crashes("crash-test-0001") == 0

        failing.error = KeyError("a template bug")
        for attempt in range(1, 4):
            with pytest.raises(Retry):
                await run("crash-test-0001", attempt)
        assert await guard.crashes("crash-test-0001") == 3

        assert await run("crash-test-0001", 4) == "quarantined"
        assert await run("crash-test-0001", 5) == "duplicate"  # set aside once
        rows = app.ledger.history("crash-test-0001")
        assert [e.status for e in rows] == [Status.ACCEPTED, Status.FAILED]
        assert rows[-1].evidence["crashes"] == "3"
    finally:
        await queue.close()


class Slow:
    """A render that waits for a long batch ahead of it in the render processes."""

    async def __call__(self, _event: Any, _issued_on: date | None) -> Any:
        await asyncio.sleep(3600)


async def test_a_run_past_its_time_is_retried_before_arq_would_fail_it(
    service_settings: Settings,
) -> None:
    settings = service_settings.model_copy(update={"job_timeout_s": 1.0})
    app = build_app(settings)
    queue = Queue.from_settings(settings)
    app.pipeline.services.render = Slow()
    guard = Guard(queue.redis)
    try:
        await Intake(app, queue).take(
            event("tax-certificate-nl", "slow-test-0001"), source="t", door="python"
        )
        started = time.monotonic()
        with pytest.raises(Retry):
            await Deliverer(app, guard, settings)("slow-test-0001", 1)
        assert time.monotonic() - started < 1.0  # arq's own timeout would have failed the job
        assert await guard.crashes("slow-test-0001") == 0
        assert app.ledger.history("slow-test-0001")[-1].status is Status.ACCEPTED
    finally:
        await queue.close()


async def test_a_worker_missing_a_seal_key_retries_and_sends_once_it_has_it(
    service_settings: Settings, tmp_path: Path
) -> None:
    old = f"2026a:{base64.b64encode(bytes(range(32))).decode()}"
    new = f"2027a:{base64.b64encode(bytes(range(1, 33))).decode()}"
    intake_settings = service_settings.model_copy(update={"seal_keys": SecretStr(old)})
    lacking = service_settings.model_copy(update={"seal_keys": SecretStr(new)})
    queue = Queue.from_settings(service_settings)
    guard = Guard(queue.redis)
    try:
        await Intake(build_app(intake_settings), queue).take(
            event("tax-certificate-nl", "seal-test-0001"), source="t", door="python"
        )
        app = build_app(lacking)
        with pytest.raises(Retry):
            await Deliverer(app, guard, lacking)("seal-test-0001", 1)
        assert await guard.crashes("seal-test-0001") == 0  # settings, not the event
        assert app.ledger.history("seal-test-0001")[-1].status is Status.ACCEPTED  # no dead letter

        with SmtpSink(tmp_path / "mail") as sink:
            fixed = lacking.model_copy(
                update={"seal_keys": SecretStr(f"{new},{old}"), "smtp_port": sink.port}
            )
            async with build_app(fixed) as ready:
                assert await Deliverer(ready, guard, fixed)("seal-test-0001", 2) == "sent"
            assert len(sink.messages()) == 1
    finally:
        await queue.close()
