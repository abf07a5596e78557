"""`GET /health`: the only anonymous route; says whether the database and Redis answer, nothing more."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRouter

from comms.queue import ping_redis

router = APIRouter(tags=["operations"])


@router.get("/health")
def health(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        request.app.state.comms.ledger.ping()
        checks["database"] = "ok"
    except Exception:  # any failure means "not healthy"; the detail goes to the logs, not here
        checks["database"] = "unavailable"
    try:
        ping_redis(request.app.state.comms.settings.redis_url)
        checks["redis"] = "ok"
    except Exception:  # the queue: without it events are accepted but wait for the sweeper
        checks["redis"] = "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status_code=200 if healthy else 503,
    )
