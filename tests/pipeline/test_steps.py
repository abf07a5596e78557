"""Steps talk through typed results: each makes what the next reads, and a misordered pipeline says
which step is missing before anything is sent."""

from __future__ import annotations

from datetime import date

import pytest

from comms.events import parse_event
from comms.models import ChannelName, Status
from comms.pipeline import (
    PIPELINES,
    Admitted,
    Archived,
    Composed,
    Dispatched,
    FallbackRequest,
    Job,
    Pipeline,
    PipelineOrderError,
    Planned,
    Request,
    Superseded,
    run_steps,
)
from comms.samples import load_sample
from tests.fakes import Recording

ISSUED = date(2027, 1, 4)
NOTICE = "contribution-notice-nl"  # email with consent, then post
EVENT_ID = "sample-contribution-notice-nl"


def named(recorded: Recording, pipeline: str) -> Pipeline:
    return Pipeline(recorded.app.pipeline.services, PIPELINES[pipeline])


async def test_a_step_needing_what_no_earlier_step_made_names_the_missing_step(
    recorded: Recording,
) -> None:
    misordered = Pipeline(recorded.app.pipeline.services, ("accept", "compose", "dispatch"))

    with pytest.raises(PipelineOrderError) as raised:
        await misordered.process(parse_event(load_sample(NOTICE)), issued_on=ISSUED)

    assert str(raised.value) == (
        "step 'dispatch' needs Planned, which step 'route' or 'reroute' makes,"
        " and it did not run before it: check the order in PIPELINES"
    )
    assert recorded.sent_anywhere() == []
    assert not [e for e in recorded.app.ledger.history(EVENT_ID) if e.channel is not None]


async def test_a_fallback_step_outside_the_fallback_pipeline_says_so(recorded: Recording) -> None:
    misplaced = Pipeline(recorded.app.pipeline.services, ("accept", "reroute"))

    with pytest.raises(PipelineOrderError, match="step 'reroute' belongs to the fallback pipeline"):
        await misplaced.process(parse_event(load_sample(NOTICE)), issued_on=ISSUED)


async def test_each_delivery_step_makes_the_result_the_next_reads(recorded: Recording) -> None:
    delivery = named(recorded, "delivery").steps
    event = parse_event(load_sample(NOTICE))

    first = Job(Request(event, issued_on=ISSUED))
    outcome = await run_steps(delivery, first)

    assert list(first.found) == [s.makes for s in delivery if s.makes]
    assert list(first.found) == [Admitted, Planned, Composed, Archived, Dispatched]
    assert outcome.verdict == "sent"
    assert first.need(Admitted) == Admitted(repeat=False)
    composed = first.need(Composed)
    assert not composed.from_archive
    sha = composed.message.document.sha256
    assert first.need(Archived) == Archived(sha, stored=True) and outcome.document_sha256 == sha
    assert first.need(Planned).plan.routes[0].channel is ChannelName.EMAIL
    assert first.need(Dispatched).deliveries == outcome.deliveries
    assert [d.channel for d in outcome.deliveries] == [ChannelName.EMAIL]
    assert first.history is None  # a new event has no past to read: no query for it

    again = Job(Request(event, issued_on=ISSUED))
    repeat = await run_steps(delivery, again)

    assert repeat.verdict == "duplicate"
    assert again.need(Admitted) == Admitted(repeat=True)
    assert again.need(Composed).from_archive and again.need(Archived) == Archived(sha, stored=False)
    assert again.history is not None
    assert len(recorded.sent(ChannelName.EMAIL)) == 1


async def test_each_fallback_step_makes_the_result_the_next_reads(recorded: Recording) -> None:
    event = parse_event(load_sample(NOTICE))
    sent = await recorded.app.pipeline.process(event, issued_on=ISSUED)
    fallback = named(recorded, "fallback").steps
    bounced = FallbackRequest(ChannelName.EMAIL, "hard bounce", (ChannelName.POST,), True)

    job = Job(Request(event, origin="ledger", fallback=bounced))
    outcome = await run_steps(fallback, job)

    assert list(job.found) == [s.makes for s in fallback if s.makes]
    assert list(job.found) == [Composed, Planned, Dispatched, Superseded]
    assert outcome.verdict == "sent"
    assert job.need(Composed).from_archive
    assert job.need(Composed).message.document.sha256 == sent.document_sha256
    assert [r.channel for r in job.need(Planned).plan.routes] == [ChannelName.POST]
    assert job.need(Dispatched).deliveries == outcome.deliveries
    email = sent.deliveries[0].communication_id
    assert job.need(Superseded) == Superseded(email)
    latest = recorded.app.ledger.latest_for(email)
    assert latest is not None and latest.status is Status.SUPERSEDED
    assert len(recorded.sent(ChannelName.POST)) == 1
