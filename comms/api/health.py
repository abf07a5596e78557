"""`GET /health`: the only anonymous route; says whether the database answers, nothing more."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse
from fastapi.routing import APIRouter

router = APIRouter(tags=["operations"])


@router.get("/health")
def health(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        request.app.state.comms.ledger.ping()
        checks["database"] = "ok"
    except Exception:  # any failure means "not healthy"; the detail goes to the logs, not here
        checks["database"] = "unavailable"
    healthy = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if healthy else "degraded", "checks": checks},
        status_code=200 if healthy else 503,
    )
