"""The HTTP API (`comms serve`): it accepts and queries; it never sends.

Each area has its own router module; `create_api` mounts them on one FastAPI application.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError

from comms.api import (
    auth,
    compliance,
    compliance_pages,
    events,
    health,
    metrics,
    outages,
    studio,
    webhooks,
)
from comms.api.guard import StorableText, without_input
from comms.app import App


def create_api(app: App) -> FastAPI:
    """One FastAPI application over an already built `App` (the composition root)."""
    api = FastAPI(
        title="comms",
        description="Letters, emails and eBox messages for the fund's members.",
        version="1",
    )
    api.state.comms = app
    outages.install(api)  # 503 + Retry-After while the database is away (finding 9)
    api.add_middleware(StorableText)
    api.add_exception_handler(RequestValidationError, without_input)
    api.include_router(health.router)
    api.include_router(auth.router)
    api.include_router(webhooks.router)  # before events: `/events/changes` is not an event id
    webhooks.document_webhooks(api)
    api.include_router(events.router)
    api.include_router(metrics.router)
    api.include_router(studio.router)  # /studio: template previews and approvals (issue 6)
    api.include_router(compliance.router)  # /deliveries: the log as JSON, CSV, JSONL (issue 5)
    api.include_router(compliance_pages.router)  # /compliance: the pages (issue 5)
    return api
