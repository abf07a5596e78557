"""One run of the worker task, in-process: bugs count towards quarantine, outages do not."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from arq.worker import Retry
from sqlalchemy.exc import OperationalError

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
