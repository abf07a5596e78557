"""One event through named steps: accept → route → compose → archive → dispatch → record.

The pipeline decides nothing itself (routing and the composer do); it orders the steps and writes
each state change to the ledger as it happens, so a crash at any point can be resumed by running
the same event again (arq is at-least-once: every step here is safe to run twice).

Steps talk through typed results, not flags: the caller's `Request` is frozen, each step returns
an `Outcome` (the end) or a small result of its own, and a later step reads it with `Job.need`.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, ClassVar, Literal, Protocol, TypeVar

from channels.base import (
    Attachment,
    Channel,
    ChannelAddress,
    Outgoing,
    PermanentError,
    Receipt,
    TransientError,
)
from comms.archive import Archive
from comms.errors import DuplicateEvent, FieldError, RenderRefused
from comms.events import AnyEvent, CompanyRecipient, parse_event, to_json
from comms.ledger import OUTAGES, AcceptResult, Entry
from comms.logging import get_logger
from comms.models import EVIDENCE_NO_DIGITAL_USER, ChannelName, Document, Language, Message, Status
from comms.routing import NO_DIGITAL_USER_REASON, PUBLISHED_NO_ID_REASON, Plan, Route, Router
from comms.runner import RetryPolicy

log = get_logger(__name__)

# domain/ebox.md: a 409 does not repeat the first answer, so its reading can never be proven.
UNKNOWN_ID = "published in the eBox by an earlier attempt whose answer was lost: message id unknown"
HANDOVER_RECORD_MAX_PAUSE_S = 5.0  # longest pause between two tries of a hand-over's ledger write

Verdict = Literal["sent", "duplicate", "rejected", "refused", "conflict", "failed", "pending"]
# Where a request's event comes from: new from a producer, or read back from the ledger's snapshot
Origin = Literal["producer", "ledger"]


@dataclass(frozen=True)
class DeliveryResult:
    """What happened on one channel for one event."""

    channel: ChannelName
    communication_id: str
    status: Status
    reason: str
    evidence: Mapping[str, str] = field(default_factory=dict)
    sent_now: bool = False  # handed over by this run (not found done in the ledger)
    retry_after_s: float | None = None  # a transient failure: try this channel again after this


@dataclass(frozen=True)
class Outcome:
    """The answer for one event, for the CLI table, the API and the worker."""

    verdict: Verdict
    event_id: str | None
    doc_type: str | None = None
    reason: str | None = None
    errors: tuple[FieldError, ...] = ()
    deliveries: tuple[DeliveryResult, ...] = ()
    document_sha256: str | None = None
    retry_after_s: float | None = None

    @property
    def pending(self) -> DeliveryResult | None:
        """The delivery that failed transiently and waits for a retry, if any."""
        return next((d for d in self.deliveries if d.retry_after_s is not None), None)


@dataclass(frozen=True)
class FallbackRequest:
    """Tracking learnt that `from_channel` did not reach: send the frozen letter on `to`."""

    from_channel: ChannelName
    reason: str
    to: tuple[ChannelName, ...]
    supersede: bool  # mark `from_channel`'s communication superseded once another has it


@dataclass(frozen=True)
class Request:
    """What the caller asks of a pipeline; no step changes it."""

    event: AnyEvent
    issued_on: date | None = None
    origin: Origin = "producer"  # "ledger" (the worker, a fallback): the event is a repeat
    source: str | None = None  # who sent it (`http:<producer>`), chained with the acceptance
    fallback: FallbackRequest | None = None  # the fallback pipeline's: from where, to what


@dataclass(frozen=True)
class StepResult:
    """What a step found, for the steps after it to read with `Job.need`."""


@dataclass(frozen=True)
class Admitted(StepResult):
    """The event is on the record; `repeat`: it was before this run (a redelivery, a resumed run)."""

    repeat: bool


@dataclass(frozen=True)
class Planned(StepResult):
    """The routes to try, in order, and the fallback chain routing allows."""

    plan: Plan


@dataclass(frozen=True)
class Composed(StepResult):
    """The message to send; `from_archive`: an earlier run's frozen one, not rendered anew."""

    message: Message
    from_archive: bool


@dataclass(frozen=True)
class Archived(StepResult):
    """The document and its wrappings are in the archive; `stored`: by this run."""

    document_sha256: str
    stored: bool


@dataclass(frozen=True)
class Dispatched(StepResult):
    """What each channel tried did, in order."""

    deliveries: tuple[DeliveryResult, ...]


@dataclass(frozen=True)
class Superseded(StepResult):
    """The communication this run marked superseded; None when none was."""

    communication_id: str | None


R = TypeVar("R", bound=StepResult)


class PipelineOrderError(RuntimeError):
    """A step needs a result no earlier step made: the pipeline is assembled wrongly (a bug)."""


@dataclass
class Job:
    """One request on its way through a pipeline, and what each step found, by result type."""

    request: Request
    step: str = ""  # the step now running, for a PipelineOrderError
    found: dict[type[StepResult], StepResult] = field(default_factory=dict)
    history: list[Entry] | None = None  # a cache of the event's ledger rows, read once a run

    @property
    def event(self) -> AnyEvent:
        return self.request.event

    def need(self, kind: type[R]) -> R:
        """The `kind` an earlier step made; a PipelineOrderError naming its makers if none did."""
        found = self.found.get(kind)
        if not isinstance(found, kind):
            makers = " or ".join(repr(n) for n, h in _HANDLERS.items() if h.makes is kind)
            raise PipelineOrderError(
                f"step {self.step!r} needs {kind.__name__}, which step {makers or '(none)'} makes,"
                " and it did not run before it: check the order in PIPELINES"
            )
        return found

    def fallback(self) -> FallbackRequest:
        """The fallback request; a PipelineOrderError outside the fallback pipeline."""
        if self.request.fallback is None:
            raise PipelineOrderError(
                f"step {self.step!r} belongs to the fallback pipeline (Pipeline.fall_back):"
                " this request names no channel to fall back from"
            )
        return self.request.fallback


def communication_id(event_id: str, channel: ChannelName, document_sha256: str) -> str:
    """Same event, channel and document: same id, so a retry is recognisable downstream too."""
    seed = f"{event_id}\0{channel.value}\0{document_sha256}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


class DeliveryLog(Protocol):
    """The part of the ledger (comms.ledger.Ledger) the steps use: accept, append, read back."""

    def accept_event(
        self,
        *,
        event_id: str,
        doc_type: str,
        content_sha256: str,
        snapshot_json: str,
        subject_id: str,
        dossier: str,
        language: Language | str,
        source: str | None = None,
    ) -> AcceptResult: ...

    def record(
        self,
        *,
        event_id: str,
        status: Status,
        communication_id: str | None = None,
        channel: ChannelName | str | None = None,
        reason: str | None = None,
        evidence: Mapping[str, str] | None = None,
        document_sha256: str | None = None,
        template_version: str | None = None,
        renderer_version: str | None = None,
    ) -> Entry: ...

    def history(self, event_id: str) -> list[Entry]: ...

    def latest_for(self, communication_id: str) -> Entry | None: ...

    def event_snapshot(self, event_id: str) -> str | None: ...


class Renderer(Protocol):
    """What Compose asks of a composer (comms.compose.Composer): the frozen message."""

    def compose(self, event: AnyEvent, *, issued_on: date | None = None) -> Message: ...


@dataclass
class Services:
    """What the steps work with, each seen through what it is used for; built in comms/app.py."""

    ledger: DeliveryLog
    archive: Archive
    composer: Renderer
    router: Router
    channels: Mapping[ChannelName, Channel]
    # Renders elsewhere (the worker's warm render processes); None: `composer` in a thread.
    render: Callable[[AnyEvent, date | None], Awaitable[Message]] | None = None
    # A channel confirmed a hand-over and the ledger cannot take it down yet (a database restart):
    # keep the receipt and try the write again for this long, rather than let a rerun send again.
    # Well inside the run's share of COMMS_JOB_TIMEOUT_S (270 s by default).
    handover_record_s: float = 120.0
    handover_record_backoff_s: float = 0.25  # doubles up to HANDOVER_RECORD_MAX_PAUSE_S
    sleep: Callable[[float], Any] = asyncio.sleep

    async def history(self, job: Job) -> list[Entry]:
        if job.history is None:
            job.history = await asyncio.to_thread(self.ledger.history, job.event.event_id)
        return job.history

    def thaw(self, history: list[Entry]) -> Message | None:
        """The message an earlier run archived (document and wrappings), if the archive has it."""
        rendered = [e for e in history if e.status is Status.RENDERED and e.document_sha256]
        if not rendered:
            return None
        sha = rendered[-1].document_sha256 or ""
        wrappings_sha = rendered[-1].evidence.get("wrappings_sha256")
        if not wrappings_sha or not self.archive.exists(sha):
            return None
        w = json.loads(self.archive.get(wrappings_sha))
        document = Document(
            pdf=self.archive.get(sha),
            sha256=sha,
            template_version=w["template_version"],
            renderer_version=w["renderer_version"],
            filename=w["filename"],
        )
        return Message(
            doc_type=w["doc_type"],
            language=Language(w["language"]),
            subject=w["subject"],
            email_text=w["email_text"],
            email_html=w["email_html"],
            ebox_subject=w["ebox_subject"],
            document=document,
            page_count=w["page_count"],
            address_lines=tuple(w["address_lines"]),
            sender_name=w.get("sender_name", ""),  # absent from wrappings frozen before issue 16
            reply_to=w.get("reply_to", ""),
        )

    async def record_delivery(
        self,
        job: Job,
        channel: ChannelName,
        status: Status,
        reason: str,
        *,
        cid: str,
        evidence: Mapping[str, str] | None = None,
    ) -> None:
        """One state change of the job's communication `cid` on `channel`, with its document."""
        doc = job.need(Composed).message.document
        await asyncio.to_thread(
            self.ledger.record,
            event_id=job.event.event_id,
            status=status,
            communication_id=cid,
            channel=channel.value,
            reason=reason,
            evidence=dict(evidence or {}),
            document_sha256=doc.sha256,
            template_version=doc.template_version,
            renderer_version=doc.renderer_version,
        )


class Step:
    """A handler: a name, a description, the result it makes, and one `process`."""

    name: ClassVar[str]
    description: ClassVar[str]
    makes: ClassVar[type[StepResult] | None] = None  # None: it ends the pipeline with an Outcome

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | StepResult:
        raise NotImplementedError


class Accept(Step):
    name = "accept"
    description = "record the event as accepted; a repeat resumes or answers as before"
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
        recipient = event.recipient
        subject = (
            recipient.enterprise_number
            if isinstance(recipient, CompanyRecipient)
            else recipient.national_number
        )
        snapshot = to_json(event)
        try:
            result = await asyncio.to_thread(
                self.s.ledger.accept_event,
                event_id=event.event_id,
                doc_type=event.type,
                content_sha256=hashlib.sha256(snapshot.encode()).hexdigest(),
                snapshot_json=snapshot,
                subject_id=subject,
                dossier=event.dossier,
                language=recipient.language.value,
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
    name = "route"
    description = "choose the channels and the fallback chain from the routing policy"
    makes = Planned

    async def process(self, job: Job) -> Planned:
        return Planned(await self.s.router.decide(job.event))


class Compose(Step):
    name = "compose"
    description = "render the letter once; on a repeat, reuse the frozen document"
    makes = Composed

    async def process(self, job: Job) -> Outcome | Composed:
        event = job.event
        issued_on = job.request.issued_on
        frozen = self.s.thaw(await self.s.history(job))
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
    name = "archive"
    description = "store the exact document and its wrappings by SHA-256 and record it as rendered"
    makes = Archived

    async def process(self, job: Job) -> Archived:
        composed = job.need(Composed)
        message = composed.message
        doc = message.document
        if composed.from_archive:
            return Archived(doc.sha256, stored=False)
        wrappings = {
            "doc_type": message.doc_type,
            "language": message.language.value,
            "subject": message.subject,
            "email_text": message.email_text,
            "email_html": message.email_html,
            "ebox_subject": message.ebox_subject,
            "page_count": message.page_count,
            "address_lines": list(message.address_lines),
            "sender_name": message.sender_name,
            "reply_to": message.reply_to,
            "filename": doc.filename,
            "template_version": doc.template_version,
            "renderer_version": doc.renderer_version,
        }
        sha = await asyncio.to_thread(self.s.archive.put, doc.pdf)
        w_sha = await asyncio.to_thread(
            self.s.archive.put, json.dumps(wrappings, sort_keys=True).encode()
        )
        await asyncio.to_thread(
            self.s.ledger.record,
            event_id=job.event.event_id,
            status=Status.RENDERED,
            document_sha256=sha,
            template_version=doc.template_version,
            renderer_version=doc.renderer_version,
            evidence={"wrappings_sha256": w_sha, "pages": str(message.page_count)},
        )
        return Archived(sha, stored=True)


class Dispatch(Step):
    name = "dispatch"
    description = "hand the message to the planned channel; on a permanent failure, routing's next"
    makes = Dispatched

    async def process(self, job: Job) -> Dispatched:
        plan = job.need(Planned).plan
        deliveries: list[DeliveryResult] = []
        route: Route | None = plan.routes[0] if plan.routes else None
        also = False  # the route is paper as well (NO_DIGITAL_USER), not a step of the plan
        while route is not None:
            result, paper_too = await self._one(job, route)
            deliveries.append(result)
            if result.status.handed_over:
                if paper_too and not also:
                    route, also = (
                        replace(plan.route_for(ChannelName.POST, paper_too), reason=paper_too),
                        True,
                    )
                    continue
                break
            if result.retry_after_s is not None:
                break  # the runner decides when this channel is tried again
            after = () if also else plan.after(route.channel)
            if after and Status.SUPERSEDED.may_follow(result.status):
                await self.s.record_delivery(
                    job,
                    route.channel,
                    Status.SUPERSEDED,
                    f"fallback to {after[0].channel.value}",
                    cid=result.communication_id,
                )
            route = after[0] if after else None
        return Dispatched(tuple(deliveries))

    async def _one(self, job: Job, route: Route) -> tuple[DeliveryResult, str | None]:
        """Sends on one channel unless the ledger shows it was already done; says if post must follow."""
        plan, message = job.need(Planned).plan, job.need(Composed).message
        cid = communication_id(job.event.event_id, route.channel, message.document.sha256)
        latest = await asyncio.to_thread(self.s.ledger.latest_for, cid)
        if latest is not None and (latest.status.handed_over or latest.status.given_up):
            also = self._also_post(plan, latest.evidence, latest.status)
            return DeliveryResult(
                route.channel, cid, latest.status, latest.reason or "", latest.evidence
            ), also
        if latest is None:
            await self.s.record_delivery(job, route.channel, Status.ROUTED, route.reason, cid=cid)
        channel = self.s.channels.get(route.channel)
        if channel is None:
            reason = f"channel {route.channel.value} is not configured"
            await self.s.record_delivery(job, route.channel, Status.FAILED, reason, cid=cid)
            return DeliveryResult(route.channel, cid, Status.FAILED, reason), None
        outgoing = build_outgoing(job.event, message, route, cid)
        try:
            receipt = await channel.send(outgoing)
        except TransientError as exc:
            return DeliveryResult(
                route.channel, cid, Status.ROUTED, exc.reason, retry_after_s=exc.retry_after_s
            ), None
        except PermanentError as exc:
            await self.s.record_delivery(
                job, route.channel, Status.FAILED, exc.reason, cid=cid, evidence=exc.evidence
            )
            return DeliveryResult(route.channel, cid, Status.FAILED, exc.reason, exc.evidence), None
        return await self._receipt(job, route, cid, receipt)

    async def _receipt(
        self, job: Job, route: Route, cid: str, receipt: Receipt
    ) -> tuple[DeliveryResult, str | None]:
        evidence = dict(receipt.evidence)
        if receipt.also_by_post:
            evidence[EVIDENCE_NO_DIGITAL_USER] = "true"
        status = Status(receipt.outcome)
        reason = UNKNOWN_ID if status is Status.PUBLISHED_NO_ID else route.reason
        await self._record_handover(job, route, status, reason, cid, evidence)
        result = DeliveryResult(route.channel, cid, status, reason, evidence, sent_now=True)
        return result, self._also_post(job.need(Planned).plan, evidence, status)

    async def _record_handover(
        self,
        job: Job,
        route: Route,
        status: Status,
        reason: str,
        cid: str,
        evidence: Mapping[str, str],
    ) -> None:
        """Writes what the channel confirmed, through a database outage (issue 13, finding 8).

        The receipt exists only in this process: lost, a rerun would see `routed` and send again.
        After a failed try the row may have been committed all the same (the connection broke
        after COMMIT), so each new try first reads the communication's latest row.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.s.handover_record_s
        backoff = RetryPolicy(self.s.handover_record_backoff_s, HANDOVER_RECORD_MAX_PAUSE_S)
        retry = False
        for attempt in itertools.count(1):
            pause = backoff.delay_s(attempt)
            try:
                if not (retry and await self._recorded(cid, status, evidence)):
                    await self.s.record_delivery(
                        job, route.channel, status, reason, cid=cid, evidence=evidence
                    )
                return
            except OUTAGES:
                if loop.time() + pause > deadline:
                    raise
            if not retry:
                log.warning("ledger away after a hand-over: receipt kept", communication_id=cid)
            await self.s.sleep(pause)
            retry = True

    async def _recorded(self, cid: str, status: Status, evidence: Mapping[str, str]) -> bool:
        latest = await asyncio.to_thread(self.s.ledger.latest_for, cid)
        return latest is not None and latest.status is status and latest.evidence == evidence

    @staticmethod
    def _also_post(plan: Plan, evidence: Mapping[str, str], status: Status) -> str | None:
        if evidence.get(EVIDENCE_NO_DIGITAL_USER) == "true" and plan.post_when_no_digital_user:
            return NO_DIGITAL_USER_REASON
        if status is Status.PUBLISHED_NO_ID and ChannelName.POST in plan.fallback.published_no_id:
            return PUBLISHED_NO_ID_REASON
        return None


class Record(Step):
    name = "record"
    description = "conclude: sent, pending a retry, or failed on every channel (dead letter)"

    async def process(self, job: Job) -> Outcome:
        event = job.event
        sha = job.need(Composed).message.document.sha256
        deliveries = job.need(Dispatched).deliveries
        plan = job.need(Planned).plan
        pending = next((d for d in deliveries if d.retry_after_s is not None), None)
        handed_over = any(d.status.handed_over for d in deliveries)
        if pending is not None:
            verdict: Verdict = "pending"
        elif handed_over and not any(d.sent_now for d in deliveries) and self._repeat(job):
            verdict = "duplicate"
        elif handed_over:
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
            retry_after_s=pending.retry_after_s if pending else None,
        )

    @staticmethod
    def _repeat(job: Job) -> bool:
        """The ledger had the event before this run: read back from it, or Accept found it known."""
        return job.request.origin == "ledger" or job.need(Admitted).repeat


class Thaw(Step):
    name = "thaw"
    description = "reuse the document an earlier run archived: a fallback never renders anew"
    makes = Composed

    async def process(self, job: Job) -> Outcome | Composed:
        event = job.event
        history = await self.s.history(job)
        if not any(e.status is Status.RENDERED for e in history):
            return Outcome(
                "failed", event.event_id, event.type, reason="nothing was rendered to resend"
            )
        message = self.s.thaw(history)
        if message is None:
            return Outcome(
                "failed", event.event_id, event.type, reason="the archived document is missing"
            )
        return Composed(message, from_archive=True)


class Reroute(Step):
    name = "reroute"
    description = "the fallback channels routing allows for this recipient, each with the trigger"
    makes = Planned

    async def process(self, job: Job) -> Planned:
        request = job.fallback()
        plan = await self.s.router.decide(job.event)
        return Planned(replace(plan, routes=plan.fallback_routes(request.to, request.reason)))


class Supersede(Step):
    name = "supersede"
    description = "once another channel has the letter, mark the one that did not reach superseded"
    makes = Superseded

    async def process(self, job: Job) -> Superseded:
        request = job.fallback()
        sha = job.need(Composed).message.document.sha256
        deliveries = job.need(Dispatched).deliveries
        if not request.supersede or not any(d.status.handed_over for d in deliveries):
            return Superseded(None)
        cid = communication_id(job.event.event_id, request.from_channel, sha)
        latest = await asyncio.to_thread(self.s.ledger.latest_for, cid)
        if latest is None or not Status.SUPERSEDED.may_follow(latest.status):
            return Superseded(None)
        await self.s.record_delivery(
            job, request.from_channel, Status.SUPERSEDED, request.reason, cid=cid
        )
        return Superseded(cid)


# Processing order is data (Mailman's pipelines): delivery, and the fallback tracking starts.
PIPELINES: dict[str, tuple[str, ...]] = {
    "delivery": ("accept", "route", "compose", "archive", "dispatch", "record"),
    "fallback": ("thaw", "reroute", "dispatch", "supersede", "record"),
}
STEPS = PIPELINES["delivery"]
_HANDLERS: dict[str, type[Step]] = {
    "accept": Accept,
    "route": RouteStep,
    "compose": Compose,
    "archive": ArchiveStep,
    "dispatch": Dispatch,
    "record": Record,
    "thaw": Thaw,
    "reroute": Reroute,
    "supersede": Supersede,
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
        result = await step.process(job)
        if isinstance(result, Outcome):
            return result
        job.found[type(result)] = result
    return Outcome(
        "failed", job.event.event_id, job.event.type, reason="pipeline ended without a verdict"
    )


def build_outgoing(event: AnyEvent, message: Message, route: Route, cid: str) -> Outgoing:
    """The channel's view of a message: addresses and texts, nothing of the event model."""
    r = event.recipient
    company = isinstance(r, CompanyRecipient)
    subject = message.ebox_subject if route.channel is ChannelName.EBOX else message.subject
    return Outgoing(
        communication_id=cid,
        language=message.language.value,
        subject=subject,
        text=message.email_text,
        html=message.email_html,
        document=Attachment(message.document.filename, message.document.pdf),
        to=ChannelAddress(
            label=r.name,
            email=str(r.email) if r.email else None,
            ebox_type="enterprise" if company else "citizen",
            ebox_id=r.enterprise_number if isinstance(r, CompanyRecipient) else r.national_number,
            attention_of=r.attention_of if isinstance(r, CompanyRecipient) else None,
            postal_lines=message.address_lines,
            postcode=r.address.postcode,
        ),
        registered=route.registered,
        attach_document=route.attach_document,
        sender_name=message.sender_name or None,
        reply_to=message.reply_to or None,
    )
