"""What the steps work with, each seen through the narrow part it uses; built in comms/app.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from channels.base import Channel
from comms.archive import Archive
from comms.compose.renderer import Renderer
from comms.events import AnyEvent
from comms.ledger import AcceptResult, Entry
from comms.models import EVIDENCE_WRAPPINGS, ChannelName, Language, Message, Status
from comms.pipeline import wrappings
from comms.pipeline.job import Composed, Job
from comms.routing import Router


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
        """The message an earlier run archived (document and wrappings), if the archive has it.

        Reads files: steps call it in a thread.
        """
        rendered = [e for e in history if e.status is Status.RENDERED and e.document_sha256]
        if not rendered:
            return None
        sha = rendered[-1].document_sha256 or ""
        wrappings_sha = rendered[-1].evidence.get(EVIDENCE_WRAPPINGS)
        if not wrappings_sha or not self.archive.exists(sha):
            return None
        return wrappings.thaw(self.archive.get(wrappings_sha), self.archive.get(sha), sha)

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
