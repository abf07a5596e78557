"""Test controls under /_sim: inject failures, flip read flags, inspect what the simulator got."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, BaseModel, Field

from channels.ebox_simulator.rules import RegistryError
from channels.ebox_simulator.state import FailurePlan, SimulatorState

router = APIRouter()


class FailRequest(BaseModel):
    """`status` None with a `delay_s` simulates a slow registry (client timeouts)."""

    status: int | None = Field(default=None, ge=400, le=599)
    count: int = Field(default=1, ge=0)
    delay_s: float = Field(default=0.0, ge=0.0)
    retry_after_s: int | None = Field(default=None, ge=0)


class PreferenceRequest(BaseModel):
    exclusivelyEbox: bool  # noqa: N815 (the federation API's field name)
    lastConnectionDate: AwareDatetime | None = None  # noqa: N815 (federation-1.3: date-time)


def _state(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.sim
    return state


@router.post("/fail")
async def fail(request: Request, plan: FailRequest) -> dict[str, Any]:
    with _state(request).lock:
        _state(request).failure = FailurePlan(
            plan.status, plan.count, plan.delay_s, plan.retry_after_s
        )
    return plan.model_dump()


@router.post("/read/{message_id}")
async def mark_read(request: Request, message_id: str) -> dict[str, Any]:
    state = _state(request)
    with state.lock:
        found = state.publications.get(message_id)
        if found is None:
            raise RegistryError("NOT_FOUND", "no such message", status=404)
        found.read = True
    return {"messageId": message_id, "readStatus": True}


@router.post("/no-digital-user/{ebox_id}")
async def no_digital_user(request: Request, ebox_id: str) -> dict[str, Any]:
    with _state(request).lock:
        _state(request).no_digital_users.add(ebox_id)
    return {"eboxId": ebox_id, "noDigitalUser": True}


@router.put("/preferences/{enterprise_number}")
async def set_preference(
    request: Request, enterprise_number: str, preference: PreferenceRequest
) -> dict[str, Any]:
    value = preference.model_dump(mode="json", exclude_none=True)
    with _state(request).lock:
        _state(request).preferences[enterprise_number] = value
    return value


@router.post("/expire-tokens")
async def expire_tokens(request: Request) -> dict[str, Any]:
    """Every issued token dies now, so the next API call answers 401."""
    _state(request).expire_tokens()
    return {"expired": True}


@router.post("/reset")
async def reset(request: Request) -> dict[str, Any]:
    _state(request).reset()
    return {"reset": True}


@router.get("/messages")
async def messages(request: Request) -> JSONResponse:
    """Every publication with its parsed JSON and its files (base64), oldest first."""
    with _state(request).lock:
        found = list(_state(request).publications.values())
    return JSONResponse([p.describe() for p in found])
