"""The eBox poll: read statuses from the simulator, unread decisions and NO_DIGITAL_USER to paper."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from channels.base import TransientError
from channels.ebox import EboxChannel
from comms import tracking
from comms.app import build_app
from comms.embedded import Embedded, embedded_services
from comms.events import parse_event
from comms.ledger import Filters
from comms.models import ChannelName, Status
from comms.reporting.model import Period, build_report
from comms.samples import load_sample
from comms.settings import Settings, load_settings
from tests.fakes import StubPdf
from tests.tracking.conftest import ISSUED, NO_DIGITAL_USER, Rig

DECISION = "sample-decision-fr"  # a person with an eBox


def published_at(rig: Rig, event_id: str) -> datetime:
    return next(
        e.at
        for e in rig.app.ledger.history(event_id)
        if e.channel is ChannelName.EBOX and e.status is Status.DELIVERED
    )


async def test_a_read_message_is_recorded_once(rig: Rig) -> None:
    """searchMessageStatus over real HTTP: READ in the simulator → `read` in the ledger."""
    sent = await rig.run("decision-fr")
    [delivery] = sent.deliveries
    assert await tracking.poll_ebox_read_status(rig.app) == 0  # published, not read yet

    rig.mark_read(delivery.evidence["ebox_message_id"])

    assert await tracking.poll_ebox_read_status(rig.app) == 1
    assert await tracking.poll_ebox_read_status(rig.app) == 0
    read = rig.app.ledger.latest_for(delivery.communication_id)
    assert read is not None and read.status is Status.READ and read.reason == "opened in the eBox"
    assert read.evidence["ebox_message_id"] == delivery.evidence["ebox_message_id"]


async def test_a_decision_unread_after_14_days_goes_by_post(rig: Rig) -> None:
    """Policy: decisions unread after 14 days are sent on paper; earlier, nothing happens."""
    sent = await rig.run("decision-fr")
    start = published_at(rig, DECISION)

    assert await tracking.poll_ebox_read_status(rig.app, now=start + timedelta(days=13)) == 0
    assert rig.post_entries() == []

    assert (
        await tracking.poll_ebox_read_status(rig.app, now=start + timedelta(days=14, hours=1)) == 1
    )

    assert rig.statuses(DECISION)[-3:] == [
        ("post", Status.ROUTED),
        ("post", Status.DISPATCHED),
        ("ebox", Status.SUPERSEDED),
    ]
    reason = "eBox message unread after 14 days: fallback to post"
    assert [r for _, _, r in rig.rows(DECISION)][-3] == reason
    assert [r for _, _, r in rig.rows(DECISION)][-1] == reason
    assert len(rig.post_entries()) == 1 and rig.post_entries()[0].address_lines[0] == "Luc Dubois"
    assert sent.document_sha256 == rig.app.ledger.history(DECISION)[-1].document_sha256
    later = start + timedelta(days=30)
    assert await tracking.poll_ebox_read_status(rig.app, now=later) == 0
    assert len(rig.post_entries()) == 1


async def test_other_types_stay_in_the_ebox_however_long_unread(rig: Rig) -> None:
    """A contribution notice has no unread fallback in the policy."""
    await rig.run("contribution-notice-fr")
    start = published_at(rig, "sample-contribution-notice-fr")

    assert await tracking.poll_ebox_read_status(rig.app, now=start + timedelta(days=40)) == 0
    assert rig.post_entries() == []


async def test_no_digital_user_without_its_paper_copy_gets_it_from_the_poll(rig: Rig) -> None:
    """The print outbox was down when the eBox said NO_DIGITAL_USER; the poll repairs it."""
    post = rig.app.channels[ChannelName.POST]
    original = post.send

    async def down(outgoing: object) -> object:
        raise TransientError("outbox share not mounted")

    post.send = down  # type: ignore[method-assign]
    first = await rig.run("company-contribution-notice-fr", recipient__ebox={"has_ebox": True})
    post.send = original  # type: ignore[method-assign]
    assert first.verdict == "pending" and rig.post_entries() == []
    ebox = rig.app.ledger.latest_for(rig.cid(first, ChannelName.EBOX))
    assert ebox is not None and ebox.evidence["no_digital_user"] == "true"

    assert await tracking.poll_ebox_read_status(rig.app) == 1

    event = "sample-company-contribution-notice-fr"
    assert rig.statuses(event)[-1] == ("post", Status.DISPATCHED)
    assert rig.rows(event)[-2][2] == "eBox answered NO_DIGITAL_USER: paper as well"
    assert ebox.communication_id is not None
    latest = rig.app.ledger.latest_for(ebox.communication_id)
    assert latest is not None and latest.status is Status.DELIVERED  # both stand
    assert await tracking.poll_ebox_read_status(rig.app) == 0
    assert len(rig.post_entries()) == 1
    assert all(NO_DIGITAL_USER not in (reason or "") for _, _, reason in rig.rows(event))


async def test_no_status_no_guess(rig: Rig) -> None:
    """The registry down: nothing read, and no unread fallback on a guess."""
    await rig.run("decision-fr")
    start = published_at(rig, DECISION)
    rig.fail_ebox(503, count=5)

    assert await tracking.poll_ebox_read_status(rig.app, now=start + timedelta(days=20)) == 0
    assert rig.post_entries() == []
    assert rig.statuses(DECISION)[-1] == ("ebox", Status.DELIVERED)


async def test_a_decision_read_in_the_ebox_is_read_and_never_goes_on_paper(rig: Rig) -> None:
    """Read before the 14 days: `read` in the ledger, and no paper copy however long after."""
    sent = await rig.run("decision-fr")
    [delivery] = sent.deliveries
    start = published_at(rig, DECISION)
    rig.mark_read(delivery.evidence["ebox_message_id"])

    assert await tracking.poll_ebox_read_status(rig.app, now=start + timedelta(days=2)) == 1
    assert await tracking.poll_ebox_read_status(rig.app, now=start + timedelta(days=30)) == 0

    assert rig.statuses(DECISION)[-1] == ("ebox", Status.READ)
    assert rig.post_entries() == []


async def test_a_crash_between_publishing_and_recording_then_a_replay(rig: Rig) -> None:
    """Published, then the worker died before the ledger row; the retry is answered 409.

    The first answer (message id, NO_DIGITAL_USER) is lost: the eBox communication ends in
    `published_no_id`, never `delivered` without a message id, and the decision goes on paper
    as the policy names (fallback.published_no_id), visible to compliance by its state.
    """
    await crash_after_publishing(rig, "decision-fr")
    assert len(rig.emb.ebox.messages()) == 1  # the registry has it

    async with build_app(
        rig.emb.settings, pdf=StubPdf()
    ) as restarted:  # a new worker: nothing in memory
        again = await restarted.pipeline.process(
            parse_event(load_sample("decision-fr")), issued_on=ISSUED
        )

    assert again.verdict == "sent"
    assert rig.statuses(DECISION)[-3:] == [
        ("ebox", Status.PUBLISHED_NO_ID),
        ("post", Status.ROUTED),
        ("post", Status.DISPATCHED),
    ]
    assert len(rig.emb.ebox.messages()) == 1
    assert len(rig.post_entries()) == 1
    ebox_rows = [e for e in rig.app.ledger.history(DECISION) if e.channel is ChannelName.EBOX]
    assert not any(e.status is Status.DELIVERED for e in ebox_rows)
    unknown = ebox_rows[-1]
    assert unknown.evidence["replay"] == "true" and "ebox_message_id" not in unknown.evidence
    post_reason = rig.rows(DECISION)[-2][2]
    assert post_reason == "eBox publication replayed, its message id unknown: paper as well"
    found = rig.app.ledger.search(Filters(status=Status.PUBLISHED_NO_ID))
    assert [e.event_id for e in found] == [DECISION]
    counts = build_report(rig.app.ledger, Period()).counts
    assert [(c.channel, c.outcome, c.count) for c in counts if c.doc_type == "decision"] == [
        ("ebox", "published_no_id", 1),
        ("post", "dispatched", 1),
    ]

    # The poll cannot ask about a message without its id, and sends no second paper copy.
    later = published_at_any(rig, DECISION) + timedelta(days=20)
    assert await tracking.poll_ebox_read_status(rig.app, now=later) == 0
    assert len(rig.post_entries()) == 1


async def test_published_no_id_without_its_paper_copy_gets_it_from_the_poll(rig: Rig) -> None:
    """The print outbox was down after the 409: the poll sends the paper the policy names."""
    await crash_after_publishing(rig, "decision-fr")

    async with build_app(rig.emb.settings, pdf=StubPdf()) as restarted:
        post = restarted.channels[ChannelName.POST]

        async def down(outgoing: object) -> object:
            raise TransientError("outbox share not mounted")

        post.send = down  # type: ignore[method-assign]
        first = await restarted.pipeline.process(
            parse_event(load_sample("decision-fr")), issued_on=ISSUED
        )
    assert first.verdict == "pending" and rig.post_entries() == []

    assert await tracking.poll_ebox_read_status(rig.app) == 1
    assert rig.statuses(DECISION)[-1] == ("post", Status.DISPATCHED)
    assert await tracking.poll_ebox_read_status(rig.app) == 0
    assert len(rig.post_entries()) == 1


async def crash_after_publishing(rig: Rig, sample: str) -> None:
    """Runs `sample` in a worker killed between the registry's 201 and the ledger row."""
    record = rig.app.ledger.record

    def dies_after_publishing(**row: Any) -> Any:
        if row["status"] is Status.DELIVERED and row["channel"] == "ebox":
            raise SystemExit("worker killed")
        return record(**row)

    rig.app.ledger.record = dies_after_publishing  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        await rig.run(sample)
    rig.app.ledger.record = record  # type: ignore[method-assign]


def published_at_any(rig: Rig, event_id: str) -> datetime:
    return next(
        e.at for e in rig.app.ledger.history(event_id) if e.status is Status.PUBLISHED_NO_ID
    )


async def test_a_fund_onboarded_on_v2_publishes_and_polls_in_v2(settings: Settings) -> None:
    """COMMS_EBOX_API_VERSION=v2: the v2 wire format end to end, read back as `read`."""
    v2 = load_settings(environment="test", data_dir=settings.data_dir, ebox_api_version="v2")
    assert v2.ebox_base_url.endswith("/messageRegistry/v2")
    assert v2.ebox_token_url.endswith("/REST/oauth/v3/token")
    with embedded_services(v2) as emb:
        async with build_app(emb.settings, pdf=StubPdf()) as app:
            sent = await app.pipeline.process(
                parse_event(load_sample("decision-fr")), issued_on=ISSUED
            )
            [delivery] = sent.deliveries
            [published] = emb.ebox.messages()
            assert published["messageToPublish"]["recipient"]["eboxType"] == "citizen"
            assert published["messageToPublish"]["replyAuthorized"] is False
            assert published["idempotencyKey"] is None
            assert delivery.evidence["ebox_message_id"] == published["messageId"]
            Rig(app, emb).mark_read(published["messageId"])

            assert await tracking.poll_ebox_read_status(app) == 1
            latest = app.ledger.latest_for(delivery.communication_id)
            assert latest is not None and latest.status is Status.READ


def test_urls_of_the_other_version_are_refused(settings: Settings) -> None:
    """A v2 fund given the v3 registry URL would fail every letter: refused at start-up."""
    v3_url = "https://services.socialsecurity.be/REST/ebox/enterprise/messageRegistry/v3"
    with pytest.raises(ValueError, match="COMMS_EBOX_BASE_URL is not a Message Registry v2 URL"):
        load_settings(ebox_api_version="v2", ebox_base_url=v3_url)


async def test_official_answers_through_a_mock_transport_reach_the_ledger(
    embedded: Embedded,
) -> None:
    """Status and preferences answered as the spec writes them, not by our simulator: the company
    is routed to its eBox (federation-1.3 EboxPreferencesList) and its read is recorded
    (rest-2.1 MessagesStatusList, 201, boolean readStatus, nested eboxId)."""
    company = "0852093431"
    simulator = httpx.AsyncHTTPTransport()
    asked: list[str] = []

    async def official(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/eboxPreferences/search"):
            asked.append("preferences")
            return httpx.Response(
                200,
                json=[
                    {
                        "eboxId": {"eboxType": "ENTERPRISE", "eboxIdValue": company},
                        "exclusivelyEbox": True,
                        "lastConnectionDate": "2027-01-03T17:12:00+01:00",
                        "totalNumberOfMessages": 12,
                        "totalNumberOfUnreadMessages": 1,
                    }
                ],
            )
        if path.endswith("/searchMessageStatus"):
            asked.append("status")
            [query] = json.loads(request.content)
            return httpx.Response(
                201,
                json=[
                    {
                        "messageId": query["messageId"],
                        "eboxId": {"eboxType": "enterprise", "eboxIdValue": company},
                        "expirationDate": "2028-01-04T00:00:00+01:00",
                        "readStatus": True,
                        "visible": True,
                    }
                ],
            )
        return await simulator.handle_async_request(request)  # token and publication

    app = build_app(embedded.settings, pdf=StubPdf())
    ebox = app.channels[ChannelName.EBOX]
    assert isinstance(ebox, EboxChannel)
    ebox._transport = httpx.MockTransport(official)  # before open: the client is built with it
    async with app:
        rig = Rig(app, embedded)
        sent = await rig.run(
            "company-contribution-notice-nl",
            recipient__ebox={"has_ebox": False, "exclusively_ebox": False},
        )
        [delivery] = sent.deliveries
        assert delivery.channel is ChannelName.EBOX
        routed = rig.rows("sample-company-contribution-notice-nl")[-2][2] or ""
        assert routed.startswith("recipient has an eBox (eBox preferences)")
        assert "email: recipient chose eBox only (eBox preferences)" in routed

        assert await tracking.poll_ebox_read_status(app) == 1

        latest = app.ledger.latest_for(delivery.communication_id)
        assert latest is not None and latest.status is Status.READ
        assert latest.evidence["read_status"] == "true"
        assert asked == ["preferences", "status"]
