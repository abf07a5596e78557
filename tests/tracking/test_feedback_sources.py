"""Tracking over scripted feedback sources (channels.memory): the facts channels report, applied to
the ledger and its fallbacks, without a mailbox, an eBox or a print shop's folder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest

from channels.base import StatusQuery, StatusUpdate
from channels.memory import MemoryChannel, MemoryFeedback
from comms import tracking
from comms.app import App, build_app
from comms.events import parse_event
from comms.models import ChannelName
from comms.routing import EVIDENCE_ADDRESS_FLAG
from comms.samples import load_sample
from comms.settings import Settings
from tests.fakes import StubPdf

ISSUED = date(2027, 1, 4)


@dataclass
class Tracked:
    app: App
    channels: dict[ChannelName, MemoryChannel]
    feedback: MemoryFeedback

    async def run(self, name: str) -> tuple[str, str]:
        """A sample sent on its one channel: (event id, communication id)."""
        event = parse_event(load_sample(name))
        outcome = await self.app.pipeline.process(event, issued_on=ISSUED)
        [delivery] = outcome.deliveries
        return event.event_id, delivery.communication_id

    def rows(self, event_id: str) -> list[tuple[str | None, str, str | None]]:
        """(channel, status, reason) of every ledger row of the event, oldest first."""
        return [
            (e.channel.value if e.channel else None, e.status.value, e.reason)
            for e in self.app.ledger.history(event_id)
        ]


@pytest.fixture
async def tracked(settings: Settings) -> AsyncIterator[Tracked]:
    channels = {name: MemoryChannel(name.value) for name in ChannelName}
    # The eBox answers `delivered` with its own message id, as the real one does.
    channels[ChannelName.EBOX] = MemoryChannel(
        "ebox", outcome="delivered", id_key="ebox_message_id"
    )
    feedback = MemoryFeedback()
    sources = tracking.FeedbackSources(
        bounces=feedback, print_shop=feedback, print_batches=feedback, read_statuses=feedback
    )
    app = build_app(settings, channels=channels, pdf=StubPdf(), feedback=sources)
    async with app:
        yield Tracked(app, channels, feedback)


async def test_a_bounce_from_the_mailbox_falls_back_to_post(tracked: Tracked) -> None:
    event_id, email_cid = await tracked.run("contribution-notice-nl")
    tracked.feedback.bounce(email_cid, status="5.1.1")

    summary = await tracking.import_bounces(tracked.app, [Path("Bounces")])

    assert tracked.feedback.opened == [Path("Bounces")]
    assert summary.kinds == {"failed": 1} and summary.verdicts == {"recorded": 1}
    assert [f.verdict for f in summary.fallbacks] == ["sent"]
    rows = tracked.rows(event_id)
    assert [(c, s) for c, s, _ in rows[-4:]] == [
        ("email", "bounced"),
        ("post", "routed"),
        ("post", "dispatched"),
        ("email", "superseded"),
    ]
    assert rows[-4][2] == "email hard bounce: permanent failure (scripted)"
    assert rows[-3][2] == "email hard bounce (5.1.1): fallback to post"
    [letter] = tracked.channels[ChannelName.POST].sent
    post_row = tracked.app.ledger.history(event_id)[-2]
    assert post_row.communication_id == letter.communication_id


async def test_an_ebox_read_is_recorded_read_once(tracked: Tracked) -> None:
    event_id, ebox_cid = await tracked.run("decision-fr")
    number = load_sample("decision-fr")["recipient"]["national_number"]

    assert await tracking.poll_ebox_read_status(tracked.app) == 0  # published, not read yet
    tracked.feedback.read.add(ebox_cid)
    assert await tracking.poll_ebox_read_status(tracked.app) == 1
    assert await tracking.poll_ebox_read_status(tracked.app) == 0  # read is final: not asked

    assert tracked.feedback.asked == [StatusQuery(ebox_cid, "1", number)] * 2
    rows = tracked.rows(event_id)
    assert [(c, s) for c, s, _ in rows[-2:]] == [("ebox", "delivered"), ("ebox", "read")]
    assert rows[-1][2] == "opened in the eBox"
    read = tracked.app.ledger.latest_for(ebox_cid)
    assert read is not None and read.evidence["ebox_message_id"] == "1"


async def test_a_batched_letter_returned_by_the_print_shop_is_returned(tracked: Tracked) -> None:
    event_id, post_cid = await tracked.run("decision-nl")
    tracked.feedback.waiting.append(post_cid)

    cut = await tracking.cut_print_batches(tracked.app, force=True)

    assert cut.kinds == {"batches": 1, "letters": 1} and cut.verdicts == {"recorded": 1}
    evidence = {"returned_on": "2027-01-12", "return_reason": "moved", "address_wrong": "true"}
    tracked.feedback.returned.append(StatusUpdate("post", post_cid, "returned", evidence))

    summary = await tracking.import_returns(tracked.app, b"the shop's file")

    assert tracked.feedback.files == [b"the shop's file"]
    assert summary.verdicts == {"recorded": 1} and summary.problems == []
    assert tracked.rows(event_id)[-2:] == [
        ("post", "dispatched", "put in a print batch"),
        ("post", "returned", "returned mail: moved; the dossier's address is flagged"),
    ]
    returned = tracked.app.ledger.latest_for(post_cid)
    assert returned is not None and returned.evidence["return_reason"] == "moved"
    assert returned.evidence[EVIDENCE_ADDRESS_FLAG]
    assert summary.fallbacks == []  # the default policy has no `returned` chain
