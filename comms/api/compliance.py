"""`GET /deliveries…`: the delivery log for the compliance role, as JSON, CSV or JSONL.

The filters are the CLI's. A national number is never a query parameter (URLs are logged): send
it in the `X-Comms-Subject` header, or send `subject_hmac`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRouter

from comms.api.auth import Principal, require
from comms.api.compliance_query import FILTER_PARAMS, filters_from, view_filters_from
from comms.app import App
from comms.archive import ArchiveCorrupted
from comms.ledger.documents import (
    DocumentMissing,
    DocumentNotFound,
    DocumentPurged,
    open_document,
)
from comms.ledger.export import Format
from comms.ledger.json_records import TOMBSTONE_FIELDS, json_record
from comms.ledger.records import DocumentView, Entry, EventInfo, Tombstone

Compliance = Annotated[Principal, Depends(require("compliance"))]
Subject = Annotated[str | None, Header(alias="X-Comms-Subject", include_in_schema=True)]
EXPORT_MEDIA = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson"}
MAX_OFFSET = 1_000_000_000  # rows; beyond any log, and inside a 64-bit OFFSET
API_PURPOSE = "api"  # what a view through this API records as its route

router = APIRouter(prefix="/deliveries", tags=["compliance"])


def _query(*names: str) -> dict[str, Any]:
    """Filters read from the query string by name, declared so the OpenAPI document lists them."""
    return {
        "parameters": [
            {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
            for n in names
        ]
    }


FILTERS = _query(*FILTER_PARAMS)
VIEW_FILTERS = _query("document", "event_id", "viewer", "since", "until")


def _app(request: Request) -> App:
    app: App = request.app.state.comms
    return app


def entry_json(e: Entry) -> dict[str, Any]:
    return json_record(e)


def view_json(v: DocumentView) -> dict[str, Any]:
    return json_record(v)


def tombstone_json(t: Tombstone) -> dict[str, Any]:
    return json_record(t, (*TOMBSTONE_FIELDS, "chain_seq", "row_hash"))


def event_json(info: EventInfo) -> dict[str, Any]:
    return json_record(info)


@router.get("", openapi_extra=FILTERS)
def deliveries(
    request: Request,
    who: Compliance,
    subject: Subject = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSONResponse:
    """Rows of the log, newest first. Filters: subject_hmac, dossier, event_id,
    communication_id, doc_type, channel, status, since, until (exclusive), evidence=key=value."""
    ledger = _app(request).ledger
    filters = filters_from(ledger, request.query_params, subject=subject)
    found = ledger.search(filters, limit=limit, offset=offset)
    return JSONResponse(
        {
            "total": ledger.count(filters),
            "limit": limit,
            "offset": offset,
            "items": [entry_json(e) for e in found],
        }
    )


@router.get("/export", openapi_extra=FILTERS)
def export(
    request: Request,
    who: Compliance,
    subject: Subject = None,
    format: Annotated[str, Query(pattern="^(csv|jsonl)$")] = "csv",
) -> StreamingResponse:
    """Every matching row, oldest first, streamed (the same files as `comms ledger export`)."""
    ledger = _app(request).ledger
    filters = filters_from(ledger, request.query_params, subject=subject)
    fmt: Format = "csv" if format == "csv" else "jsonl"
    return StreamingResponse(
        ledger.iter_export(filters, fmt),
        media_type=EXPORT_MEDIA[fmt],
        headers={
            "Content-Disposition": f'attachment; filename="deliveries.{fmt}"',
            "X-Total-Rows": str(ledger.count(filters)),
            "Cache-Control": "no-store",
        },
    )


@router.get("/views", openapi_extra=VIEW_FILTERS)
def views(
    request: Request,
    who: Compliance,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> JSONResponse:
    """Who opened which document, newest first. Filters: document, event_id, viewer, since, until."""
    found = _app(request).ledger.views(
        view_filters_from(request.query_params), limit=limit, offset=offset
    )
    return JSONResponse({"items": [view_json(v) for v in found]})


@router.get("/{event_id}")
def communication(request: Request, event_id: str, who: Compliance) -> JSONResponse:
    """One event's whole history, its documents, who opened them, and what was purged."""
    ledger = _app(request).ledger
    info = ledger.event(event_id)
    history = ledger.history(event_id)
    if info is None and not history:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such event")
    return JSONResponse(
        {
            "event": event_json(info) if info else None,
            "entries": [entry_json(e) for e in history],
            "documents": [
                {"sha256": sha, "kind": kind}
                for sha, kind in sorted(ledger.documents_of(event_id).items())
            ],
            "views": [
                view_json(v) for v in ledger.views(view_filters_from({"event_id": event_id}))
            ],
            "tombstones": [tombstone_json(t) for t in ledger.tombstones(event_ids=[event_id])],
        }
    )


@router.get("/{event_id}/documents/{sha256}")
def document(request: Request, event_id: str, sha256: str, who: Compliance) -> Response:
    """The archived bytes, after recording who opened them."""
    return serve_document(_app(request), event_id, sha256, viewer=who.name, purpose=API_PURPOSE)


def serve_document(app: App, event_id: str, sha256: str, *, viewer: str, purpose: str) -> Response:
    """Shared by the API and the compliance page: the right type, no caching, the hash echoed."""
    try:
        opened = open_document(
            app.ledger,
            app.archive,
            event_id=event_id,
            sha256=sha256,
            viewer=viewer,
            purpose=purpose,
        )
    except DocumentNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "this event has no such document") from None
    except DocumentPurged as gone:
        t = gone.tombstone
        raise HTTPException(
            status.HTTP_410_GONE,
            f"purged on {t.at.date().isoformat()} under the rule: {t.rule}",
        ) from None
    except DocumentMissing:
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            "the archive lacks this document and no purge explains it: report it",
        ) from None
    except ArchiveCorrupted:
        raise HTTPException(
            status.HTTP_500_INTERNAL_SERVER_ERROR,
            "the archived document no longer matches its hash: report it",
        ) from None
    suffix = "pdf" if opened.kind == "document" else "json"
    return Response(
        opened.data,
        media_type=opened.media_type,
        headers={
            "Content-Disposition": f'inline; filename="{event_id}.{suffix}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
            "X-Document-SHA256": sha256,
        },
    )
