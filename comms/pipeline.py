"""One event through named steps: accept → route → compose → archive → dispatch → record.

The pipeline decides nothing itself (routing and the composer do); it orders the steps and writes
each state change to the ledger as it happens, so a crash at any point can be resumed by running
the same event again (arq is at-least-once: every step here is safe to run twice).
"""

from __future__ import annotations

import asyncio
import hashlib
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
from comms.compose import Composer
from comms.errors import DuplicateEvent, FieldError, InvalidEvent, RenderRefused
from comms.events import (
    AnyEvent,
    CompanyRecipient,
    parse_event,
    sealable_text,
    to_json,
)
from comms.ledger import OUTAGES, Entry, Ledger
from comms.logging import get_logger
from comms.models import ChannelName, Document, Language, Message, Status
from comms.routing import Plan, Route, Router

log = get_logger(__name__)

EVIDENCE_NO_DIGITAL_USER = "no_digital_user"
NO_DIGITAL_USER_REASON = "eBox answered NO_DIGITAL_USER: paper as well"
PUBLISHED_NO_ID_REASON = "eBox publication replayed, its message id unknown: paper as well"
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


@dataclass
class Job:
    """The state one event carries from step to step."""

    event: AnyEvent
    issued_on: date | None = None
    plan: Plan | None = None
    message: Message | None = None
    frozen: bool = False  # the document was rendered on an earlier run and is reused as it was
    deliveries: list[DeliveryResult] = field(default_factory=list)
    stop: Outcome | None = None
    retry_after_s: float | None = None
    repeat: bool = False  # the ledger already had this event: a redelivery or a resumed run
    accepted: bool = False  # the event was read from the ledger's own snapshot (the worker)
    history: list[Entry] | None = None  # the event's rows as Accept read them, for Compose
    sent_now: int = 0  # channel hand-overs made by this run
    source: str | None = None  # who sent it (`http:<producer>`), chained with the acceptance


def communication_id(event_id: str, channel: ChannelName, document_sha256: str) -> str:
    """Same event, channel and document: same id, so a retry is recognisable downstream too."""
    seed = f"{event_id}\0{channel.value}\0{document_sha256}".encode()
    return hashlib.sha256(seed).hexdigest()[:32]


class Step(Protocol):
    name: str
    description: str

    async def process(self, job: Job) -> None: ...


@dataclass
class Services:
    """What the steps work with; built once by the composition root (comms/app.py)."""

    ledger: Ledger
    archive: Archive
    composer: Composer
    router: Router
    channels: Mapping[ChannelName, Channel]
    # Renders elsewhere (the worker's warm render processes); None: `composer` in a thread.
    render: Callable[[AnyEvent, date | None], Awaitable[Message]] | None = None
    transient_attempts: int = 3
    transient_backoff_s: float = 0.2
    # A channel confirmed a hand-over and the ledger cannot take it down yet (a database restart):
    # keep the receipt and try the write again for this long, rather than let a rerun send again.
    # Well inside the run's share of COMMS_JOB_TIMEOUT_S (270 s by default).
    handover_record_s: float = 120.0
    handover_record_backoff_s: float = 0.25  # doubles up to HANDOVER_RECORD_MAX_PAUSE_S
    sleep: Callable[[float], Any] = asyncio.sleep


class Accept:
    name = "accept"
    description = "record the event as accepted; a repeat resumes or answers as before"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> None:
        event = job.event
        recipient = event.recipient
        subject = (
            recipient.enterprise_number
            if isinstance(recipient, CompanyRecipient)
            else recipient.national_number
        )
        if job.accepted:  # read back from the ledger: accepting it again would only say "known"
            job.repeat = True
            await self._stop_if_refused(job)
            return
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
            job.stop = Outcome(
                "conflict",
                event.event_id,
                event.type,
                reason="this event id was already used for different content",
            )
            return
        if result.new:
            return
        job.repeat = True
        await self._stop_if_refused(job)

    async def _stop_if_refused(self, job: Job) -> None:
        """A repeat of an event our templates refused answers as before, without a second try."""
        event = job.event
        job.history = await asyncio.to_thread(self.s.ledger.history, event.event_id)
        refused = next((e for e in job.history if e.status is Status.REFUSED), None)
        if refused is not None:
            job.stop = Outcome("refused", event.event_id, event.type, reason=refused.reason)


class RouteStep:
    name = "route"
    description = "choose the channels and the fallback chain from the routing policy"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> None:
        job.plan = await self.s.router.decide(job.event)


class Compose:
    name = "compose"
    description = "render the letter once; on a repeat, reuse the frozen document"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> None:
        event = job.event
        history = job.history
        if history is None:
            history = await asyncio.to_thread(self.s.ledger.history, event.event_id)
        rendered = [e for e in history if e.status is Status.RENDERED]
        if rendered and rendered[-1].document_sha256:
            row = rendered[-1]
            job.message = self._thaw(row.document_sha256 or "", row.evidence)
            job.frozen = job.message is not None
            if job.frozen:
                return
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
            job.stop = Outcome("refused", event.event_id, event.type, reason=str(exc))

    def _thaw(self, sha: str, evidence: Mapping[str, str]) -> Message | None:
        wrappings_sha = evidence.get("wrappings_sha256")
        if not wrappings_sha or not self.s.archive.exists(sha):
            return None
        w = json.loads(self.s.archive.get(wrappings_sha))
        document = Document(
            pdf=self.s.archive.get(sha),
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
        )


class ArchiveStep:
    name = "archive"
    description = "store the exact document and its wrappings by SHA-256 and record it as rendered"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> None:
        if job.frozen:
            return
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


class Dispatch:
    name = "dispatch"
    description = "hand the message to the chosen channel, falling back along the chain"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> None:
        assert job.plan is not None and job.message is not None
        queue: list[Route] = list(job.plan.routes)
        while queue:
            route = queue.pop(0)
            result, more = await self._one(job, route)
            job.deliveries.append(result)
            if result.status.handed_over:
                if more:
                    queue = [replace(job.plan.route_for(ChannelName.POST, more), reason=more)]
                    continue
                return
            if job.retry_after_s is not None:
                return
            remaining = [r for r in queue if r.channel is not route.channel]
            if remaining and Status.SUPERSEDED.may_follow(result.status):
                await self._record(
                    job, route, Status.SUPERSEDED, f"fallback to {remaining[0].channel.value}"
                )
            queue = remaining

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
            await self._record(job, route, Status.ROUTED, route.reason, cid=cid)
        channel = self.s.channels.get(route.channel)
        if channel is None:
            reason = f"channel {route.channel.value} is not configured"
            await self._record(job, route, Status.FAILED, reason, cid=cid)
            return DeliveryResult(route.channel, cid, Status.FAILED, reason), None
        outgoing = build_outgoing(job.event, job.message, route, cid)
        for attempt in range(self.s.transient_attempts):
            try:
                receipt = await channel.send(outgoing)
            except TransientError as exc:
                if attempt + 1 == self.s.transient_attempts:
                    job.retry_after_s = exc.retry_after_s
                    return DeliveryResult(route.channel, cid, Status.ROUTED, exc.reason), None
                await self.s.sleep(self.s.transient_backoff_s * 2**attempt)
            except PermanentError as exc:
                await self._record(
                    job, route, Status.FAILED, exc.reason, cid=cid, evidence=exc.evidence
                )
                return DeliveryResult(
                    route.channel, cid, Status.FAILED, exc.reason, exc.evidence
                ), None
            else:
                job.sent_now += 1
                return await self._receipt(job, route, cid, receipt)
        raise AssertionError("unreachable")  # pragma: no cover

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
        return DeliveryResult(route.channel, cid, status, reason, evidence), self._also_post(
            job.plan, evidence, status
        )

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
        pause = self.s.handover_record_backoff_s
        retry = False
        while True:
            try:
                if not (retry and await self._recorded(cid, status, evidence)):
                    await self._record(job, route, status, reason, cid=cid, evidence=evidence)
                return
            except OUTAGES:
                if loop.time() + pause > deadline:
                    raise
            if not retry:
                log.warning("ledger away after a hand-over: receipt kept", communication_id=cid)
            await self.s.sleep(pause)
            pause, retry = min(pause * 2, HANDOVER_RECORD_MAX_PAUSE_S), True

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

    async def _record(
        self,
        job: Job,
        route: Route,
        status: Status,
        reason: str,
        *,
        cid: str | None = None,
        evidence: Mapping[str, str] | None = None,
    ) -> None:
        assert job.message is not None
        doc = job.message.document
        await asyncio.to_thread(
            self.s.ledger.record,
            event_id=job.event.event_id,
            status=status,
            communication_id=cid or communication_id(job.event.event_id, route.channel, doc.sha256),
            channel=route.channel.value,
            reason=reason,
            evidence=dict(evidence or {}),
            document_sha256=doc.sha256,
            template_version=doc.template_version,
            renderer_version=doc.renderer_version,
        )


class Record:
    name = "record"
    description = "conclude: sent, pending a retry, or failed on every channel (dead letter)"

    def __init__(self, s: Services) -> None:
        self.s = s

    async def process(self, job: Job) -> None:
        event = job.event
        sha = job.message.document.sha256 if job.message else None
        deliveries = tuple(job.deliveries)
        if job.retry_after_s is not None:
            verdict: Verdict = "pending"
        elif job.repeat and job.sent_now == 0 and any(d.status.handed_over for d in deliveries):
            verdict = "duplicate"
        elif any(d.status.handed_over for d in deliveries):
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
        job.stop = Outcome(
            verdict,
            event.event_id,
            event.type,
            deliveries=deliveries,
            document_sha256=sha,
            retry_after_s=job.retry_after_s,
        )


STEPS: tuple[str, ...] = ("accept", "route", "compose", "archive", "dispatch", "record")
_HANDLERS: dict[str, Callable[[Services], Step]] = {
    "accept": Accept,
    "route": RouteStep,
    "compose": Compose,
    "archive": ArchiveStep,
    "dispatch": Dispatch,
    "record": Record,
}


class Pipeline:
    """Runs the steps in STEPS order; the worker, the CLI and the demo all call `process`."""

    def __init__(self, services: Services, steps: tuple[str, ...] = STEPS) -> None:
        self.services = services
        self.steps = [_HANDLERS[name](services) for name in steps]

    async def process_raw(self, raw: str | bytes | dict[str, Any], *, source: str) -> Outcome:
        """Validates first; bad input is kept in the ledger with its field errors, never dropped."""
        try:
            event = parse_event(raw)
        except InvalidEvent as exc:
            await asyncio.to_thread(
                self.services.ledger.reject,
                source=source,
                raw=sealable_text(raw),
                errors=exc.errors,
                event_id=exc.event_id,
                doc_type=exc.doc_type,
            )
            return Outcome(
                "rejected",
                exc.event_id,
                exc.doc_type,
                errors=tuple(exc.errors),
                reason="invalid event",
            )
        return await self.process(event)

    async def process(
        self, event: AnyEvent, *, issued_on: date | None = None, accepted: bool = False
    ) -> Outcome:
        """`accepted`: the event was read from the ledger's snapshot, so Accept need not write."""
        job = Job(event, issued_on=issued_on, accepted=accepted)
        for step in self.steps:
            await step.process(job)
            if job.stop is not None:
                return job.stop
        return Outcome(
            "failed", event.event_id, event.type, reason="pipeline ended without a verdict"
        )

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

        Tracking calls it (hard bounce, eBox NO_DIGITAL_USER or unread). The frozen document is
        reused and the Dispatch and Record steps do the rest, so running it twice sends nothing
        twice. Once a fallback channel has the letter, `from_channel`'s communication is marked
        superseded (after, so a crash in between is repaired by running it again); not so with
        `supersede=False` (NO_DIGITAL_USER: both stand). Only channels routing allows for this
        recipient are tried; none left is a dead letter for an operator.
        """
        s = self.services
        snapshot = await asyncio.to_thread(s.ledger.event_snapshot, event_id)
        if snapshot is None:
            return Outcome("failed", event_id, reason="event unknown, or its snapshot was purged")
        event = parse_event(snapshot)
        history = await asyncio.to_thread(s.ledger.history, event_id)
        if not any(e.status is Status.RENDERED for e in history):
            return Outcome("failed", event_id, event.type, reason="nothing was rendered to resend")
        job = Job(event, repeat=True)
        await Compose(s).process(job)
        if job.stop is not None:
            return job.stop
        if not job.frozen or job.message is None:
            return Outcome(
                "failed", event_id, event.type, reason="the archived document is missing"
            )
        plan = await s.router.decide(event)
        routes = plan.fallback_routes(to, reason)
        job.plan = Plan(routes, plan.skipped, plan.post_when_no_digital_user, plan.fallback)
        dispatch = Dispatch(s)
        await dispatch.process(job)
        from_cid = communication_id(event_id, from_channel, job.message.document.sha256)
        latest = await asyncio.to_thread(s.ledger.latest_for, from_cid)
        taken = any(d.status.handed_over for d in job.deliveries)
        if (
            supersede
            and taken
            and latest is not None
            and Status.SUPERSEDED.may_follow(latest.status)
        ):
            source = Route(from_channel, reason)
            await dispatch._record(job, source, Status.SUPERSEDED, reason, cid=from_cid)
        await Record(s).process(job)
        assert job.stop is not None
        return job.stop


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
    )
