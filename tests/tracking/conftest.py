"""A running service for tracking tests: pipeline, ledger and archive, with the real stand-ins.

Letters are stub PDFs: tracking reads states and files, never what a letter says (tests/compose).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest

from channels.post import PostChannel
from comms.app import App, build_app
from comms.embedded import Embedded, embedded_services
from comms.events import parse_event
from comms.models import ChannelName, Status
from comms.pipeline import Outcome
from comms.samples import load_sample
from comms.settings import Settings
from tests.fakes import StubPdf
from tests.net import HTTP

ISSUED = date(2027, 1, 4)
NO_DIGITAL_USER = "0474028805"  # the French sample company: published, but it never looks


@dataclass
class Rig:
    app: App
    emb: Embedded

    async def run(self, name: str, **changes: Any) -> Outcome:
        """A sample through the pipeline; `a__b=value` replaces a nested field first."""
        raw = load_sample(name)
        for dotted, value in changes.items():
            target = raw
            *path, last = dotted.split("__")
            for part in path:
                target = target[part]
            target[last] = value
        return await self.app.pipeline.process(parse_event(raw), issued_on=ISSUED)

    def rows(self, event_id: str) -> list[tuple[str | None, str, str | None]]:
        """(channel, status, reason) of every ledger row of the event, oldest first."""
        return [
            (e.channel.value if e.channel else None, e.status.value, e.reason)
            for e in self.app.ledger.history(event_id)
        ]

    def statuses(self, event_id: str) -> list[tuple[str | None, Status]]:
        return [
            (e.channel.value if e.channel else None, e.status)
            for e in self.app.ledger.history(event_id)
        ]

    def post_entries(self) -> list[Any]:
        return list(PostChannel(outbox_dir=self.app.settings.post_dir).entries())

    def cid(self, outcome: Outcome, channel: ChannelName) -> str:
        return next(d.communication_id for d in outcome.deliveries if d.channel is channel)

    def mark_read(self, message_id: str) -> None:
        HTTP.post(f"{self.emb.ebox.base_url}/_sim/read/{message_id}").raise_for_status()

    def set_preference(self, enterprise_number: str, *, exclusively_ebox: bool) -> None:
        """What the federation answers for this company from now on."""
        answer = HTTP.put(
            f"{self.emb.ebox.base_url}/_sim/preferences/{enterprise_number}",
            json={"exclusivelyEbox": exclusively_ebox},
        )
        answer.raise_for_status()

    def fail_ebox(self, status: int, *, count: int) -> None:
        """The simulator answers `status` to the next `count` calls."""
        answer = HTTP.post(
            f"{self.emb.ebox.base_url}/_sim/fail", json={"status": status, "count": count}
        )
        answer.raise_for_status()


@pytest.fixture
def embedded(settings: Settings) -> Iterator[Embedded]:
    with embedded_services(settings, no_digital_users=(NO_DIGITAL_USER,)) as emb:
        yield emb


@pytest.fixture
async def rig(embedded: Embedded) -> AsyncIterator[Rig]:
    app = build_app(embedded.settings, pdf=StubPdf())
    async with app:
        yield Rig(app, embedded)
