"""One event through named steps: accept → route → compose → archive → dispatch → record.

The pipeline decides nothing itself (routing and the composer do); it orders the steps and writes
each state change to the ledger as it happens, so a crash at any point can be resumed by running
the same event again (arq is at-least-once: every step here is safe to run twice).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, Literal, Protocol

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


@dataclass
class Job:
    """One event on its way through a pipeline: what the steps learnt so far, typed."""

    event: AnyEvent
    issued_on: date | None = None
    accepted: bool = False  # the event was read from the ledger's own snapshot (the worker)
    source: str | None = None  # who sent it (`http:<producer>`), chained with the acceptance
    fallback: FallbackRequest | None = None  # set for the fallback pipeline
    repeat: bool = False  # the ledger already had this event: a redelivery or a resumed run
    history: list[Entry] | None = None  # the event's rows as Accept read them, for Compose
    plan: Plan | None = None
    message: Message | None = None
    archived: bool = False  # the document was archived on an earlier run and is reused as it was
    deliveries: list[DeliveryResult] = field(default_factory=list)


def communication_id(event_id: str, channel: ChannelName, document_sha256: str) -> str:
    """Same event, channel and document: same id, so a retry is recognisable downstream too."""
    seed = f"{event_id}\0{channel.value}\0{document_sha256}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


class Step(Protocol):
    """A handler: a name, a description and one `process`; an `Outcome` ends the pipeline."""

    name: str
    description: str

    async def process(self, job: Job) -> Outcome | None: ...


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
        cid: str | None = None,
        evidence: Mapping[str, str] | None = None,
    ) -> None:
        """One state change of the job's communication on `channel`, with its document."""
        assert job.message is not None
        doc = job.message.document
        await asyncio.to_thread(
            self.ledger.record,
            event_id=job.event.event_id,
            status=status,
            communication_id=cid or communication_id(job.event.event_id, channel, doc.sha256),
            channel=channel.value,
            reason=reason,
            evidence=dict(evidence or {}),
            document_sha256=doc.sha256,
            template_version=doc.template_version,
            renderer_version=doc.renderer_version,
        )


class Accept:
    name = "accept"
    description = "record the event as accepted; a repeat resumes or answers as before"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        event = job.event
        recipient = event.recipient
        subject = (
            recipient.enterprise_number
            if isinstance(recipient, CompanyRecipient)
            else recipient.national_number
        )
        if job.accepted:  # read back from the ledger: accepting it again would only say "known"
            job.repeat = True
            return await self._refused_before(job)
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
                source=job.source,
            )
        except DuplicateEvent:
            return Outcome(
                "conflict",
                event.event_id,
                event.type,
                reason="this event id was already used for different content",
            )
        if result.new:
            return None
        job.repeat = True
        return await self._refused_before(job)

    async def _refused_before(self, job: Job) -> Outcome | None:
        """A repeat of an event our templates refused answers as before, without a second try."""
        history = await self.s.history(job)
        refused = next((e for e in history if e.status is Status.REFUSED), None)
        if refused is None:
            return None
        return Outcome("refused", job.event.event_id, job.event.type, reason=refused.reason)


class RouteStep:
    name = "route"
    description = "choose the channels and the fallback chain from the routing policy"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        job.plan = await self.s.router.decide(job.event)
        return None


class Compose:
    name = "compose"
    description = "render the letter once; on a repeat, reuse the frozen document"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        event = job.event
        job.message = self.s.thaw(await self.s.history(job))
        job.archived = job.message is not None
        if job.archived:
            return None
        try:
            if self.s.render is not None:
                job.message = await self.s.render(event, job.issued_on)
            else:
                job.message = await asyncio.to_thread(
                    self.s.composer.compose, event, issued_on=job.issued_on
                )
        except RenderRefused as exc:
            await asyncio.to_thread(
                self.s.ledger.record,
                event_id=event.event_id,
                status=Status.REFUSED,
                reason=str(exc),
            )
            return Outcome("refused", event.event_id, event.type, reason=str(exc))
        return None


class ArchiveStep:
    name = "archive"
    description = "store the exact document and its wrappings by SHA-256 and record it as rendered"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        if job.archived:
            return None
        message = job.message
        assert message is not None
        doc = message.document
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
        return None


class Dispatch:
    name = "dispatch"
    description = "hand the message to the planned channel; on a permanent failure, routing's next"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        assert job.plan is not None and job.message is not None
        plan = job.plan
        route: Route | None = plan.routes[0] if plan.routes else None
        also = False  # the route is paper as well (NO_DIGITAL_USER), not a step of the plan
        while route is not None:
            result, paper_too = await self._one(job, route)
            job.deliveries.append(result)
            if result.status.handed_over:
                if paper_too and not also:
                    route, also = (
                        replace(plan.route_for(ChannelName.POST, paper_too), reason=paper_too),
                        True,
                    )
                    continue
                return None
            if result.retry_after_s is not None:
                return None  # the runner decides when this channel is tried again
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
        return None

    async def _one(self, job: Job, route: Route) -> tuple[DeliveryResult, str | None]:
        """Sends on one channel unless the ledger shows it was already done; says if post must follow."""
        assert job.message is not None and job.plan is not None
        cid = communication_id(job.event.event_id, route.channel, job.message.document.sha256)
        latest = await asyncio.to_thread(self.s.ledger.latest_for, cid)
        if latest is not None and (latest.status.handed_over or latest.status.given_up):
            also = self._also_post(job.plan, latest.evidence, latest.status)
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
        outgoing = build_outgoing(job.event, job.message, route, cid)
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
        assert job.plan is not None
        evidence = dict(receipt.evidence)
        if receipt.also_by_post:
            evidence[EVIDENCE_NO_DIGITAL_USER] = "true"
        status = Status(receipt.outcome)
        reason = UNKNOWN_ID if status is Status.PUBLISHED_NO_ID else route.reason
        await self._record_handover(job, route, status, reason, cid, evidence)
        result = DeliveryResult(route.channel, cid, status, reason, evidence, sent_now=True)
        return result, self._also_post(job.plan, evidence, status)

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


class Record:
    name = "record"
    description = "conclude: sent, pending a retry, or failed on every channel (dead letter)"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        event = job.event
        sha = job.message.document.sha256 if job.message else None
        deliveries = tuple(job.deliveries)
        pending = next((d for d in deliveries if d.retry_after_s is not None), None)
        handed_over = any(d.status.handed_over for d in deliveries)
        if pending is not None:
            verdict: Verdict = "pending"
        elif handed_over and job.repeat and not any(d.sent_now for d in deliveries):
            verdict = "duplicate"
        elif handed_over:
            verdict = "sent"
        else:
            verdict = "failed"
            reason = "no channel left: dead letter, needs an operator"
            if job.plan is not None and job.plan.skipped:
                reason += f" (skipped: {'; '.join(job.plan.skipped)})"
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


class Thaw:
    name = "thaw"
    description = "reuse the document an earlier run archived: a fallback never renders anew"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        event = job.event
        history = await self.s.history(job)
        if not any(e.status is Status.RENDERED for e in history):
            return Outcome(
                "failed", event.event_id, event.type, reason="nothing was rendered to resend"
            )
        job.message = self.s.thaw(history)
        job.archived = job.repeat = True
        if job.message is None:
            return Outcome(
                "failed", event.event_id, event.type, reason="the archived document is missing"
            )
        return None


class Reroute:
    name = "reroute"
    description = "the fallback channels routing allows for this recipient, each with the trigger"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        assert job.fallback is not None
        plan = await self.s.router.decide(job.event)
        job.plan = replace(plan, routes=plan.fallback_routes(job.fallback.to, job.fallback.reason))
        return None


class Supersede:
    name = "supersede"
    description = "once another channel has the letter, mark the one that did not reach superseded"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> Outcome | None:
        request = job.fallback
        assert request is not None and job.message is not None
        if not request.supersede or not any(d.status.handed_over for d in job.deliveries):
            return None
        cid = communication_id(
            job.event.event_id, request.from_channel, job.message.document.sha256
        )
        latest = await asyncio.to_thread(self.s.ledger.latest_for, cid)
        if latest is not None and Status.SUPERSEDED.may_follow(latest.status):
            await self.s.record_delivery(
                job, request.from_channel, Status.SUPERSEDED, request.reason, cid=cid
            )
        return None


# Processing order is data (Mailman's pipelines): delivery, and the fallback tracking starts.
PIPELINES: dict[str, tuple[str, ...]] = {
    "delivery": ("accept", "route", "compose", "archive", "dispatch", "record"),
    "fallback": ("thaw", "reroute", "dispatch", "supersede", "record"),
}
STEPS = PIPELINES["delivery"]
_HANDLERS: dict[str, Callable[[Services], Step]] = {
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

    async def accept(
        self, event: AnyEvent, *, source: str | None = None
    ) -> tuple[Outcome | None, bool]:
        """The Accept step alone (intake): a conflict or an earlier refusal, and whether it is a
        repeat."""
        job = Job(event, source=source)
        stop = await Accept(self.services).process(job)
        return stop, job.repeat

    async def process(
        self,
        event: AnyEvent,
        *,
        issued_on: date | None = None,
        accepted: bool = False,
        source: str | None = None,
    ) -> Outcome:
        """`accepted`: the event was read from the ledger's snapshot, so Accept need not write."""
        job = Job(event, issued_on=issued_on, accepted=accepted, source=source)
        return await self._run(self.steps, job)

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
        request = FallbackRequest(from_channel, reason, tuple(to), supersede)
        return await self._run(self._fallback, Job(parse_event(snapshot), fallback=request))

    @staticmethod
    async def _run(steps: Sequence[Step], job: Job) -> Outcome:
        for step in steps:
            stop = await step.process(job)
            if stop is not None:
                return stop
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
