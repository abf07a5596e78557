"""`POST /events` and `GET /events/{id}` (producer role): accept and queue; read the record back.

The API never sends. It validates, records the event as accepted in the ledger, queues its id and
answers `202` with the event's status URL; the same event again gets the same answer; bad input
gets `422` with field errors that name fields, never their values.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, status
from fastapi.responses import JSONResponse
from fastapi.routing import APIRouter
from pydantic import BaseModel

from comms.api.auth import Principal, require
from comms.events import event_json_schema
from comms.ledger import Entry
from comms.ledger.queries import owners_of
from comms.ledger.standing import Standing, standing
from comms.models import producer_source
from comms.notification import NotificationPolicy
from comms.queue import Queue
from comms.service.intake import Admission, Intake

MAX_BODY_BYTES = 1_000_000  # one event; the largest sample (an account statement) is a few KB


class Accepted(BaseModel):
    """The event is in the ledger; follow `status_url` for what became of it."""

    event_id: str
    status_url: str
    duplicate: bool  # this event id (with this content) was accepted before: nothing new happens


class FieldProblem(BaseModel):
    field: str
    message: str


class Rejected(BaseModel):
    """The event breaks the contract; it is kept as rejected. No value of it is quoted."""

    detail: str
    event_id: str | None
    errors: list[FieldProblem]


class Conflict(BaseModel):
    detail: str
    event_id: str


class StateChange(BaseModel):
    """One ledger row: a state, when, why, and the evidence the channel gave."""

    seq: int
    status: str
    at: datetime
    reason: str | None
    evidence: dict[str, str]
    document_sha256: str | None
    template_version: str | None


class DeliveryStatus(BaseModel):
    """One communication: the event on one channel, with every state it went through."""

    communication_id: str
    channel: str | None
    state: str
    history: list[StateChange]
    notified_on: date | None = None  # the day the member is deemed notified (docs/notification.md)
    notification_rule: str | None = None  # the rule that gave `notified_on`


class EventStatus(BaseModel):
    """Everything the ledger knows of one event: event-level rows and each delivery's history."""

    event_id: str
    doc_type: str | None
    outcome: Standing
    state: str  # the latest row's status
    history: list[StateChange]
    deliveries: list[DeliveryStatus]


@asynccontextmanager
async def _lifespan(api: FastAPI) -> AsyncIterator[None]:
    yield
    queue: Queue | None = getattr(api.state, "queue", None)
    if queue is not None:
        await queue.close()


router = APIRouter(tags=["events"], lifespan=_lifespan)


def queue_of(request: Request) -> Queue:
    """One queue client per API process, made on first use (no await between check and set)."""
    state = request.app.state
    queue: Queue | None = getattr(state, "queue", None)
    if queue is None:
        queue = Queue.from_settings(state.comms.settings)
        state.queue = queue
    return queue


def intake_of(request: Request) -> Intake:
    """One intake per API process, made on first use (no await between check and set: no race)."""
    state = request.app.state
    intake: Intake | None = getattr(state, "intake", None)
    if intake is None:
        intake = Intake(state.comms, queue_of(request))
        state.intake = intake
    return intake


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    """The event JSON Schema with its `$defs` inlined, so it stands alone inside OpenAPI."""
    defs: dict[str, Any] = schema.get("$defs", {})

    def walk(node: Any, seen: tuple[str, ...]) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in seen:
                    return walk(defs[name], (*seen, name))
            # The discriminator's mapping names `$defs` entries that no longer exist once
            # inlined; each branch still pins its `type`, which is what the mapping said.
            return {
                k: walk(v, seen) for k, v in node.items() if k not in ("$defs", "discriminator")
            }
        if isinstance(node, list):
            return [walk(v, seen) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema, ())
    return inlined


_REQUEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": _inline_refs(event_json_schema())}},
    }
}


@router.post(
    "/events",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses={
        409: {"model": Conflict, "description": "This event id was used for other content"},
        413: {"description": "The body is larger than one event can be"},
        415: {"description": "The body is not JSON (application/json)"},
        422: {"model": Rejected, "description": "Field errors; the event is kept as rejected"},
    },
    openapi_extra=_REQUEST_BODY,
)
async def post_event(
    request: Request, who: Annotated[Principal, Depends(require("producer"))]
) -> JSONResponse:
    """Validate, record as accepted, queue; the same event id again is harmless."""
    if not is_json(request.headers.get("content-type")):
        raise HTTPException(status.HTTP_415_UNSUPPORTED_MEDIA_TYPE, "send application/json")
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "one event at most 1 MB")
    body = await request.body()
    if len(body) > MAX_BODY_BYTES:
        raise HTTPException(status.HTTP_413_CONTENT_TOO_LARGE, "one event at most 1 MB")
    admission = await intake_of(request).take(body, source=source_of(who), door="http")
    if admission.answer == "duplicate" and admission.event_id is not None:
        history = await asyncio.to_thread(
            request.app.state.comms.ledger.history, admission.event_id
        )
        if not sent_by(who, history):  # another producer's event: say no more than a conflict
            admission = dataclasses.replace(admission, answer="conflict", reason=OTHERS)
    return _answer(request, admission)


OTHERS = "this event id was already used"


def is_json(content_type: str | None) -> bool:
    """`application/json` or a `+json` type; no header at all is read as JSON (older clients)."""
    if content_type is None:
        return True
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def source_of(who: Principal) -> str:
    """How the log names a producer: `http:` and its user name from the settings."""
    return producer_source(who.name)


def sent_by(who: Principal, history: list[Entry]) -> bool:
    """Whether `who` sent this event: the source chained with its acceptance, or with its
    rejection when nobody's was accepted (comms.ledger.queries.owners_of)."""
    return source_of(who) in owners_of(history)


def _answer(request: Request, admission: Admission) -> JSONResponse:
    if admission.answer == "rejected":
        rejected = Rejected(
            detail="invalid event",
            event_id=admission.event_id,
            errors=[FieldProblem(field=e.field, message=e.message) for e in admission.errors],
        )
        return JSONResponse(rejected.model_dump(), status_code=422)
    assert admission.event_id is not None
    if admission.answer == "conflict":
        conflict = Conflict(detail=admission.reason or "conflict", event_id=admission.event_id)
        return JSONResponse(conflict.model_dump(), status_code=409)
    url = str(request.url_for("event_status", event_id=admission.event_id))
    accepted = Accepted(
        event_id=admission.event_id, status_url=url, duplicate=admission.answer == "duplicate"
    )
    return JSONResponse(accepted.model_dump(), status_code=202, headers={"Location": url})


@router.get(
    "/events/{event_id}",
    name="event_status",
    response_model=EventStatus,
    responses={404: {"description": "No event with this id"}},
)
async def event_status(
    request: Request,
    event_id: str,
    who: Annotated[Principal, Depends(require("producer"))],
) -> EventStatus:
    """Each delivery's state history and evidence, from the ledger; only the sender's events."""
    history: list[Entry] = await asyncio.to_thread(request.app.state.comms.ledger.history, event_id)
    if not history or not sent_by(who, history):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no event with this id")
    return summarise(event_id, history, request.app.state.comms.notification)


def summarise(event_id: str, history: list[Entry], notification: NotificationPolicy) -> EventStatus:
    """Groups an event's rows by communication and names where it stands."""
    by_communication: dict[str, list[Entry]] = {}
    event_rows: list[Entry] = []
    for entry in history:
        if entry.communication_id is None:
            event_rows.append(entry)
        else:
            by_communication.setdefault(entry.communication_id, []).append(entry)
    deliveries = []
    for cid, rows in by_communication.items():
        notified = notification.deemed(rows)
        deliveries.append(
            DeliveryStatus(
                communication_id=cid,
                channel=rows[-1].channel.value if rows[-1].channel else None,
                state=rows[-1].status.value,
                history=[_change(e) for e in rows],
                notified_on=notified.on if notified else None,
                notification_rule=notified.rule if notified else None,
            )
        )
    latest = history[-1]
    doc_type = next((e.doc_type for e in history if e.doc_type), None)
    return EventStatus(
        event_id=event_id,
        doc_type=doc_type,
        outcome=standing(history),
        state=latest.status.value,
        history=[_change(e) for e in event_rows],
        deliveries=deliveries,
    )


def _change(entry: Entry) -> StateChange:
    return StateChange(
        seq=entry.seq,
        status=entry.status.value,
        at=entry.at,
        reason=entry.reason,
        evidence=dict(entry.evidence),
        document_sha256=entry.document_sha256,
        template_version=entry.template_version,
    )
