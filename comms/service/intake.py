"""The one way in (HTTP, Python, files, the demo): validate, keep bad input, record, then queue or run.

The order is the rule of DESIGN.md ("Who holds the truth"): the event is written to the ledger as
accepted before anyone is told so, and only then put on a queue. Redis refusing the job does not
change the answer: the event is safe in the ledger and the sweeper queues it later. Without a
queue (`comms process`, `comms demo`) the same validation is followed by a run in this process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from pydantic import BaseModel
from redis.exceptions import RedisError

from comms.app import App, build_app
from comms.errors import FieldError, InvalidEvent
from comms.events import AnyEvent, parse_event, sealable_text
from comms.ledger.standing import needs_work
from comms.logging import get_logger
from comms.observability import EVENTS_PROCESSED, EVENTS_RECEIVED, UNQUEUED, type_label
from comms.pipeline import Outcome
from comms.queue import Queue
from comms.settings import Settings, load_settings

log = get_logger(__name__)

Answer = Literal["accepted", "duplicate", "rejected", "conflict"]
Door = Literal["http", "python", "file", "demo"]
Raw = AnyEvent | Mapping[str, Any] | str | bytes


@dataclass(frozen=True)
class Admission:
    """What a door answers for one event; nothing in it quotes the event's values."""

    answer: Answer
    event_id: str | None
    doc_type: str | None = None
    errors: tuple[FieldError, ...] = ()
    reason: str | None = None
    queued: bool = False  # a job was put on a queue now (False: one was live, done, or Redis away)


class JobQueue(Protocol):
    """Where admitted events wait for a worker (comms.queue.Queue)."""

    async def put(self, event_id: str, doc_type: str) -> bool: ...


class Intake:
    """Validates, records and queues (or runs); one per process, shared by every request."""

    def __init__(self, app: App, queue: JobQueue | None = None) -> None:
        self.app = app
        self.queue = queue

    @classmethod
    @asynccontextmanager
    async def open(cls, settings: Settings) -> AsyncIterator[Intake]:
        """An intake over its own app and queue, for callers without an app (`enqueue`, the CLI)."""
        queue = Queue.from_settings(settings)
        app = build_app(settings)
        try:
            yield cls(app, queue)
        finally:
            await queue.close()
            app.ledger.close()

    async def take(self, raw: Raw, *, source: str, door: Door) -> Admission:
        """Validates `raw` (a model, dict or JSON) and admits it; bad input is kept as rejected."""
        event = await self._validated(raw, source=source, door=door)
        if isinstance(event, Admission):
            return event
        return await self.admit(event, door=door, source=source)

    async def run(self, raw: Raw, *, source: str, door: Door) -> Outcome:
        """The same validation, then the event runs here, start to end (no queue, no worker)."""
        event = await self._validated(raw, source=source, door=door)
        if isinstance(event, Admission):
            return Outcome(
                "rejected", event.event_id, event.doc_type, event.reason, errors=event.errors
            )
        outcome = await self.app.runner.run(event, source=source)
        # The door's answer, as `take` counts it; the run's verdict is a processed event's.
        answer = outcome.verdict if outcome.verdict in ("conflict", "duplicate") else "accepted"
        EVENTS_RECEIVED.labels(door, type_label(event.type), answer).inc()
        EVENTS_PROCESSED.labels(type_label(event.type), outcome.verdict).inc()
        return outcome

    async def _validated(self, raw: Raw, *, source: str, door: Door) -> AnyEvent | Admission:
        if isinstance(raw, BaseModel):
            raw = raw.model_dump(mode="json")
        try:
            return parse_event(raw if isinstance(raw, str | bytes) else dict(raw))
        except InvalidEvent as exc:
            await asyncio.to_thread(
                self.app.ledger.reject,
                source=source,
                raw=sealable_text(raw),
                errors=exc.errors,
                event_id=exc.event_id,
                doc_type=exc.doc_type,
            )
            EVENTS_RECEIVED.labels(door, type_label(exc.doc_type), "rejected").inc()
            return Admission(
                "rejected", exc.event_id, exc.doc_type, tuple(exc.errors), reason="invalid event"
            )

    async def admit(self, event: AnyEvent, *, door: Door, source: str | None = None) -> Admission:
        """Records a valid event as accepted (once) and queues it unless it needs nothing more."""
        admitted = await self.app.pipeline.accept(event, source=source)  # the pipeline's step
        if isinstance(admitted, Outcome):
            EVENTS_RECEIVED.labels(door, type_label(event.type), "conflict").inc()
            return Admission("conflict", event.event_id, event.type, reason=admitted.reason)
        answer: Answer = "duplicate" if admitted.repeat else "accepted"
        queued = False
        if not admitted.repeat or await self._still_waiting(event.event_id):
            queued = await self._queue(event)
        EVENTS_RECEIVED.labels(door, type_label(event.type), answer).inc()
        return Admission(answer, event.event_id, event.type, queued=queued)

    async def _still_waiting(self, event_id: str) -> bool:
        history = await asyncio.to_thread(self.app.ledger.history, event_id)
        return bool(history) and needs_work(history[-1])

    async def _queue(self, event: AnyEvent) -> bool:
        if self.queue is None:
            return False
        try:
            return await self.queue.put(event.event_id, event.type)
        except (RedisError, OSError) as exc:
            UNQUEUED.inc()
            log.warning(
                "accepted event not queued: the sweeper will queue it",
                event_id=event.event_id,
                error=type(exc).__name__,
            )
            return False


async def enqueue(
    event: Raw,
    *,
    settings: Settings | None = None,
    source: str = "python",
) -> Admission:
    """The Python door: the same validation and idempotency as `POST /events` and `comms enqueue`.

    `event` is an event model, a dict or JSON text. Returns an `Admission` (accepted, duplicate,
    rejected with field errors, or conflict). Opens and closes its own connections: a service
    that enqueues often should keep an intake open instead (`Intake.open`).
    """
    async with Intake.open(settings or load_settings()) as intake:
        return await intake.take(event, source=source, door="python")
