"""The dispatch step: hand the message to the planned channel, and routing's next on a failure.

A hand-over is written to the ledger even through a database outage (the receipt exists only in
this process), so a rerun never sends twice.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import replace

from channels.base import PermanentError, Receipt, TransientError
from comms.ledger import OUTAGES
from comms.logging import get_logger
from comms.models import EVIDENCE_NO_DIGITAL_USER, ChannelName, Status
from comms.pipeline.job import Composed, DeliveryResult, Dispatched, Job, Planned
from comms.pipeline.outgoing import build_outgoing, communication_id
from comms.pipeline.steps import Step
from comms.routing import NO_DIGITAL_USER_REASON, PUBLISHED_NO_ID_REASON, Plan, Route
from comms.runner import RetryPolicy

log = get_logger(__name__)

# domain/ebox.md: a 409 does not repeat the first answer, so its reading can never be proven.
UNKNOWN_ID = "published in the eBox by an earlier attempt whose answer was lost: message id unknown"
HANDOVER_RECORD_MAX_PAUSE_S = 5.0  # longest pause between two tries of a hand-over's ledger write


class Dispatch(Step):
    """Hand the message to the planned channel; on a permanent failure, routing's next."""

    name = "dispatch"
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
