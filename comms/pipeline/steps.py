"""The pipeline's handlers (dispatch has its own module): one base class, one job each."""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import replace
from typing import ClassVar

from comms.errors import DuplicateEvent, RenderRefused
from comms.events import to_json
from comms.models import EVIDENCE_WRAPPINGS, Status
from comms.pipeline import wrappings
from comms.pipeline.job import (
    Admitted,
    Archived,
    Composed,
    Dispatched,
    Job,
    Outcome,
    Planned,
    StepResult,
    Superseded,
    Verdict,
)
from comms.pipeline.outgoing import communication_id
from comms.pipeline.services import Services


class Step:
    """A handler: a name, the result it makes, and one `process`; its docstring says what it does."""

    name: ClassVar[str]
    makes: ClassVar[type[StepResult] | None] = None  # None: it ends the pipeline with an Outcome

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | StepResult:
        raise NotImplementedError


class Accept(Step):
    """Record the event as accepted; a repeat resumes or answers as before."""

    name = "accept"
    makes = Admitted

    async def process(self, job: Job) -> Outcome | Admitted:
        admitted = await self.admit(job)
        if isinstance(admitted, Outcome) or not admitted.repeat:
            return admitted
        return await self._refused_before(job) or admitted

    async def admit(self, job: Job) -> Outcome | Admitted:
        """The event on the record once: a conflict, or admitted, new or a repeat (intake's part)."""
        if job.request.origin == "ledger":  # accepting it again would only say "known"
            return Admitted(repeat=True)
        event = job.event
        snapshot = to_json(event)
        try:
            result = await asyncio.to_thread(
                self.s.ledger.accept_event,
                event_id=event.event_id,
                doc_type=event.type,
                content_sha256=hashlib.sha256(snapshot.encode()).hexdigest(),
                snapshot_json=snapshot,
                subject_id=event.recipient.subject_id,
                dossier=event.dossier,
                language=event.recipient.language.value,
                source=job.request.source,
            )
        except DuplicateEvent:
            return Outcome(
                "conflict",
                event.event_id,
                event.type,
                reason="this event id was already used for different content",
            )
        return Admitted(repeat=not result.new)

    async def _refused_before(self, job: Job) -> Outcome | None:
        """A repeat of an event our templates refused answers as before, without a second try."""
        history = await self.s.history(job)
        refused = next((e for e in history if e.status is Status.REFUSED), None)
        if refused is None:
            return None
        return Outcome("refused", job.event.event_id, job.event.type, reason=refused.reason)


class RouteStep(Step):
    """Choose the channels and the fallback chain from the routing policy."""

    name = "route"
    makes = Planned

    async def process(self, job: Job) -> Planned:
        return Planned(await self.s.router.decide(job.event))


class Compose(Step):
    """Render the letter once; on a repeat, reuse the frozen document (a new event has none)."""

    name = "compose"
    makes = Composed

    async def process(self, job: Job) -> Outcome | Composed:
        event = job.event
        issued_on = job.request.issued_on
        if job.need(Admitted).repeat:
            frozen = await asyncio.to_thread(self.s.thaw, await self.s.history(job))
            if frozen is not None:
                return Composed(frozen, from_archive=True)
        try:
            if self.s.render is not None:
                message = await self.s.render(event, issued_on)
            else:
                message = await asyncio.to_thread(
                    self.s.composer.compose, event, issued_on=issued_on
                )
        except RenderRefused as exc:
            await asyncio.to_thread(
                self.s.ledger.record,
                event_id=event.event_id,
                status=Status.REFUSED,
                reason=str(exc),
            )
            return Outcome("refused", event.event_id, event.type, reason=str(exc))
        return Composed(message, from_archive=False)


class ArchiveStep(Step):
    """Store the exact document and its wrappings by SHA-256 and record it as rendered."""

    name = "archive"
    makes = Archived

    async def process(self, job: Job) -> Archived:
        composed = job.need(Composed)
        message = composed.message
        doc = message.document
        if composed.from_archive:
            return Archived(doc.sha256, stored=False)
        sha = await asyncio.to_thread(self.s.archive.put, doc.pdf)
        w_sha = await asyncio.to_thread(self.s.archive.put, wrappings.freeze(message))
        await asyncio.to_thread(
            self.s.ledger.record,
            event_id=job.event.event_id,
            status=Status.RENDERED,
            document_sha256=sha,
            template_version=doc.template_version,
            renderer_version=doc.renderer_version,
            evidence={EVIDENCE_WRAPPINGS: w_sha, "pages": str(message.page_count)},
        )
        return Archived(sha, stored=True)


class Record(Step):
    """Conclude: sent, pending a retry, or failed on every channel (dead letter)."""

    name = "record"

    async def process(self, job: Job) -> Outcome:
        event = job.event
        sha = job.need(Composed).message.document.sha256
        dispatched = job.need(Dispatched)
        deliveries = dispatched.deliveries
        plan = job.need(Planned).plan
        if dispatched.pending is not None:
            verdict: Verdict = "pending"
        elif (
            dispatched.handed_over and not any(d.sent_now for d in deliveries) and self._repeat(job)
        ):
            verdict = "duplicate"
        elif dispatched.handed_over:
            verdict = "sent"
        else:
            verdict = "failed"
            reason = "no channel left: dead letter, needs an operator"
            if plan.skipped:
                reason += f" (skipped: {'; '.join(plan.skipped)})"
            await asyncio.to_thread(
                self.s.ledger.record,
                event_id=event.event_id,
                status=Status.FAILED,
                reason=reason,
                document_sha256=sha,
            )
        return Outcome(
            verdict,
            event.event_id,
            event.type,
            deliveries=deliveries,
            document_sha256=sha,
        )

    @staticmethod
    def _repeat(job: Job) -> bool:
        """The ledger had the event before this run: read back from it, or Accept found it known."""
        return job.request.origin == "ledger" or job.need(Admitted).repeat


class Thaw(Step):
    """Reuse the document an earlier run archived: a fallback never renders anew."""

    name = "thaw"
    makes = Composed

    async def process(self, job: Job) -> Outcome | Composed:
        event = job.event
        history = await self.s.history(job)
        if not any(e.status is Status.RENDERED for e in history):
            return Outcome(
                "failed", event.event_id, event.type, reason="nothing was rendered to resend"
            )
        message = await asyncio.to_thread(self.s.thaw, history)
        if message is None:
            return Outcome(
                "failed", event.event_id, event.type, reason="the archived document is missing"
            )
        return Composed(message, from_archive=True)


class Reroute(Step):
    """The fallback channels routing allows for this recipient, each with the trigger."""

    name = "reroute"
    makes = Planned

    async def process(self, job: Job) -> Planned:
        request = job.fallback()
        plan = await self.s.router.decide(job.event)
        return Planned(replace(plan, routes=plan.fallback_routes(request.to, request.reason)))


class Supersede(Step):
    """Once another channel has the letter, mark the one that did not reach superseded."""

    name = "supersede"
    makes = Superseded

    async def process(self, job: Job) -> Superseded:
        request = job.fallback()
        sha = job.need(Composed).message.document.sha256
        if not request.supersede or not job.need(Dispatched).handed_over:
            return Superseded(None)
        cid = communication_id(job.event.event_id, request.from_channel, sha)
        latest = await asyncio.to_thread(self.s.ledger.latest_for, cid)
        if latest is None or not Status.SUPERSEDED.may_follow(latest.status):
            return Superseded(None)
        await self.s.record_delivery(
            job, request.from_channel, Status.SUPERSEDED, request.reason, cid=cid
        )
        return Superseded(cid)
