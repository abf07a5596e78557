"""A database outage answered as one: 503 with `Retry-After`, the connection closed, one log line.

Without this, each request during a restart got a plain-text 500, a traceback in the log, and the
next request on the same keep-alive connection was reset unanswered (issue 13, finding 9).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from comms.ledger import OUTAGES
from comms.logging import get_logger

log = get_logger(__name__)

RETRY_AFTER_S = 5  # a restart or failover is over in seconds; clients back off on their own after
DETAIL = "the database is unavailable; try again shortly"


async def database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    """The answer `/health` gives (503), for any route whose database call failed."""
    log.warning(
        "database unavailable",
        method=request.method,
        route=getattr(request.scope.get("route"), "path", "?"),  # the template: no ids or values
        error=type(exc).__name__,
    )
    return JSONResponse(
        {"detail": DETAIL},
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_S), "Connection": "close"},
    )


def install(api: FastAPI) -> None:
    for outage in OUTAGES:
        api.add_exception_handler(outage, database_unavailable)
