"""`/webhooks` and `GET /events/changes` (producer role): push and pull of an event's state changes.

A producer sees and manages only its own endpoints, messages and changes (docs/webhooks.md).
"""

from __future__ import annotations

import asyncio
import functools
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, FastAPI, HTTPException, Query, Request, Response, status
from fastapi.routing import APIRouter
from pydantic import AnyHttpUrl, BaseModel, Field

from comms.api.auth import Principal, require
from comms.webhooks import Change, ChangeType, Endpoint, OutboxMessage, WebhookStore
from comms.webhooks.addresses import ForbiddenTarget, pin
from comms.webhooks.store import TooManyEndpoints, UnknownChangeType

router = APIRouter(tags=["webhooks"])
Producer = Annotated[Principal, Depends(require("producer"))]


class ChangeOut(BaseModel):
    """One state change; `seq` is its place in the fund's log and the feed's cursor."""

    seq: int
    change: ChangeType
    event_id: str
    doc_type: str | None
    communication_id: str | None
    channel: str | None
    status: str
    at: datetime
    reason: str | None
    notified_on: str | None = Field(
        description="The day the member is deemed notified (YYYY-MM-DD), once known"
    )
    notification_rule: str | None = Field(description="The rule that gave `notified_on`")


class ChangePage(BaseModel):
    """Changes after the cursor, in order; pass `cursor` as `after` to read on."""

    changes: list[ChangeOut]
    cursor: int


class WebhookIn(BaseModel):
    url: AnyHttpUrl
    types: list[ChangeType] = Field(min_length=1)


class WebhookOut(BaseModel):
    id: str
    url: str
    types: list[str]
    created_at: datetime
    disabled_at: datetime | None


class WebhookCreated(WebhookOut):
    """Returned once: keep `secret`; it verifies the `webhook-signature` of every message."""

    secret: str


class MessageOut(BaseModel):
    id: str
    seq: int
    event_id: str
    change: str
    state: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    delivered_at: datetime | None


class StateChangeMessage(BaseModel):
    """The body of every webhook POST (Standard Webhooks: `type`, `timestamp`, `data`)."""

    type: str = Field(examples=["communication.delivered"])
    timestamp: datetime
    data: ChangeOut


def store_of(request: Request) -> WebhookStore:
    store: WebhookStore = request.app.state.comms.webhooks
    return store


@router.get("/events/changes", response_model=ChangePage)
async def changes(
    request: Request,
    who: Producer,
    after: Annotated[int, Query(ge=0, le=2**62)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> ChangePage:
    """Your events' state changes after `after`, oldest first; each comes exactly once."""
    found = await asyncio.to_thread(store_of(request).changes, who.name, after=after, limit=limit)
    return ChangePage(changes=[_change(c) for c in found], cursor=found[-1].seq if found else after)


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=WebhookCreated)
async def register(request: Request, who: Producer, body: WebhookIn) -> WebhookCreated:
    """Registers an endpoint for the change types named; it hears of changes from now on."""
    url = str(body.url)
    settings = request.app.state.comms.settings
    if settings.environment == "production" and body.url.scheme != "https":
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, "the url must use https")
    try:
        await pin(url, allow_private=settings.webhook_private_targets_allowed)
    except ForbiddenTarget as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"url: {exc}") from None
    try:
        endpoint, secret = await asyncio.to_thread(
            functools.partial(
                store_of(request).register,
                who.name,
                url,
                [t.value for t in body.types],
                most=settings.webhook_endpoints_per_producer,
            )
        )
    except (UnknownChangeType, TooManyEndpoints) as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
    return WebhookCreated(**_endpoint(endpoint).model_dump(), secret=secret)


@router.get("/webhooks", response_model=list[WebhookOut])
async def list_webhooks(request: Request, who: Producer) -> list[WebhookOut]:
    found = await asyncio.to_thread(store_of(request).endpoints, who.name)
    return [_endpoint(e) for e in found]


@router.delete("/webhooks/{endpoint_id}", status_code=status.HTTP_204_NO_CONTENT)
async def disable(request: Request, who: Producer, endpoint_id: str) -> Response:
    """Stops sending to this endpoint; what was already queued is not sent either."""
    if not await asyncio.to_thread(store_of(request).disable, who.name, endpoint_id[:40]):
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no active webhook with this id")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/webhooks/{endpoint_id}/messages", response_model=list[MessageOut])
async def messages(
    request: Request,
    who: Producer,
    endpoint_id: str,
    state: Literal["pending", "delivered", "dead"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[MessageOut]:
    """What was (or will be) sent to one of your endpoints; `dead` ones wait for an operator."""
    found = await asyncio.to_thread(
        store_of(request).messages,
        state=state,
        endpoint_id=endpoint_id[:40],
        producer=who.name,
        limit=limit,
    )
    return [_message(m) for m in found]


def document_webhooks(api: FastAPI) -> None:
    """The OpenAPI `webhooks` section: what each registered endpoint receives."""

    @api.webhooks.post("state-change")
    def state_change(body: StateChangeMessage) -> None:
        """One state change of one of your events. Headers `webhook-id` (deduplicate on it),
        `webhook-timestamp` and `webhook-signature` (Standard Webhooks, HMAC-SHA256 with your
        endpoint's secret). Answer 2xx within 10 s; anything else is retried for 27.5 hours."""


def _change(change: Change) -> ChangeOut:
    return ChangeOut.model_validate(change.as_data())


def _endpoint(endpoint: Endpoint) -> WebhookOut:
    return WebhookOut(
        id=endpoint.id,
        url=endpoint.url,
        types=list(endpoint.types),
        created_at=endpoint.created_at,
        disabled_at=endpoint.disabled_at,
    )


def _message(message: OutboxMessage) -> MessageOut:
    return MessageOut(
        id=message.id,
        seq=message.seq,
        event_id=message.event_id,
        change=message.type,
        state=message.state,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at,
        last_error=message.last_error,
        delivered_at=message.delivered_at,
    )
