"""One event through named steps: accept → route → compose → archive → dispatch → record.

The pipeline decides nothing itself (routing and the composer do); it orders the steps and writes
each state change to the ledger as it happens, so a crash at any point can be resumed by running
the same event again (arq is at-least-once: every step here is safe to run twice).
`job.py` holds what steps pass on, `steps.py` and `dispatch.py` the handlers, `services.py` what
they work with, `outgoing.py` the channel's view.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import date

from comms.events import AnyEvent, parse_event
from comms.models import ChannelName
from comms.pipeline.dispatch import Dispatch
from comms.pipeline.job import (
    Admitted,
    Archived,
    Composed,
    DeliveryResult,
    Dispatched,
    FallbackRequest,
    Job,
    MissingResult,
    Origin,
    Outcome,
    PipelineOrderError,
    Planned,
    Request,
    StepResult,
    Superseded,
    Verdict,
)
from comms.pipeline.outgoing import build_outgoing, communication_id
from comms.pipeline.services import DeliveryLog, Services
from comms.pipeline.steps import (
    Accept,
    ArchiveStep,
    Compose,
    Record,
    Reroute,
    RouteStep,
    Step,
    Supersede,
    Thaw,
)

__all__ = [
    "PIPELINES",
    "STEPS",
    "Admitted",
    "Archived",
    "Composed",
    "DeliveryLog",
    "DeliveryResult",
    "Dispatched",
    "FallbackRequest",
    "Job",
    "Outcome",
    "Pipeline",
    "PipelineOrderError",
    "Planned",
    "Request",
    "Services",
    "Step",
    "StepResult",
    "Superseded",
    "Verdict",
    "build_outgoing",
    "communication_id",
    "run_steps",
]


# Processing order is data (Mailman's pipelines): delivery, and the fallback tracking starts.
PIPELINES: dict[str, tuple[str, ...]] = {
    "delivery": ("accept", "route", "compose", "archive", "dispatch", "record"),
    "fallback": ("thaw", "reroute", "dispatch", "supersede", "record"),
}
STEPS = PIPELINES["delivery"]
_HANDLERS: dict[str, type[Step]] = {
    h.name: h
    for h in (Accept, RouteStep, Compose, ArchiveStep, Dispatch, Record, Thaw, Reroute, Supersede)
}


class Pipeline:
    """Runs one event once through a named pipeline of steps; the runner owns retries."""

    def __init__(self, services: Services, steps: tuple[str, ...] = STEPS) -> None:
        self.services = services
        self.steps = [_HANDLERS[name](services) for name in steps]
        self._fallback = [_HANDLERS[name](services) for name in PIPELINES["fallback"]]

    async def accept(self, event: AnyEvent, *, source: str | None = None) -> Outcome | Admitted:
        """Intake's part of the Accept step: the event on the record once, or a conflict."""
        return await Accept(self.services).admit(Job(Request(event, source=source)))

    async def process(
        self,
        event: AnyEvent,
        *,
        issued_on: date | None = None,
        accepted: bool = False,
        source: str | None = None,
    ) -> Outcome:
        """`accepted`: the event was read from the ledger's snapshot, so Accept need not write."""
        origin: Origin = "ledger" if accepted else "producer"
        request = Request(event, issued_on=issued_on, origin=origin, source=source)
        return await run_steps(self.steps, Job(request))

    async def fall_back(
        self,
        event_id: str,
        from_channel: ChannelName,
        reason: str,
        *,
        to: Sequence[ChannelName] = (ChannelName.POST,),
        supersede: bool = True,
    ) -> Outcome:
        """Sends an already rendered event on `to` after `from_channel` turned out not to reach.

        Tracking calls it (hard bounce, eBox NO_DIGITAL_USER or unread): the `fallback` pipeline
        reuses the frozen document, so running it twice sends nothing twice. `from_channel`'s
        communication is marked superseded after a fallback channel has the letter (a crash in
        between is repaired by running it again); not so with `supersede=False` (NO_DIGITAL_USER:
        both stand). Only channels routing allows for this recipient are tried; none left is a
        dead letter for an operator.
        """
        snapshot = await asyncio.to_thread(self.services.ledger.event_snapshot, event_id)
        if snapshot is None:
            return Outcome("failed", event_id, reason="event unknown, or its snapshot was purged")
        fallback = FallbackRequest(from_channel, reason, tuple(to), supersede)
        request = Request(parse_event(snapshot), origin="ledger", fallback=fallback)
        return await run_steps(self._fallback, Job(request))


async def run_steps(steps: Sequence[Step], job: Job) -> Outcome:
    """Runs `steps` in order, folding each result into `job`, until one answers an Outcome."""
    for step in steps:
        job.step = step.name
        try:
            result = await step.process(job)
        except MissingResult as missing:
            makers = " or ".join(repr(n) for n, h in _HANDLERS.items() if h.makes is missing.kind)
            raise PipelineOrderError(
                f"step {missing.step!r} needs {missing.kind.__name__}, which step"
                f" {makers or '(none)'} makes, and it did not run before it:"
                " check the order in PIPELINES"
            ) from None
        if isinstance(result, Outcome):
            return result
        job.found[type(result)] = result
    return Outcome(
        "failed", job.event.event_id, job.event.type, reason="pipeline ended without a verdict"
    )
