"""`/compliance`: server-rendered pages to search the log, read a history, open its documents.

No JavaScript anywhere: forms and links only. A national number is posted, hashed, and only its
HMAC goes in the URL the browser is sent to, so it never reaches access logs or history.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import Depends, Form, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRouter
from jinja2 import Environment, FileSystemLoader, StrictUndefined

from comms.api.auth import Principal, require_page
from comms.api.compliance import serve_document
from comms.api.compliance_query import filters_from, query_of, view_filters_from
from comms.app import App
from comms.ledger import Filters, Ledger
from comms.ledger.records import Entry
from comms.models import BRUSSELS, ChannelName, Status
from comms.reporting import TABLES, Period, build_report, csv_text, render_fragment

PAGES = Path(__file__).resolve().parent / "pages" / "compliance"
PAGE_SIZE = 50  # rows per result page
PAGE_PURPOSE = "compliance page"  # what a view through these pages records as its route
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@cache
def pages() -> Environment:
    """The pages' own Jinja2 environment: autoescaped, strict, separate from the letters'."""
    env = Environment(
        loader=FileSystemLoader(PAGES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["local"] = _local
    env.filters["short"] = lambda text: (text or "")[:12]
    return env


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    return moment.astimezone(BRUSSELS).strftime("%Y-%m-%d %H:%M:%S %Z")


Officer = Annotated[Principal, Depends(require_page("compliance"))]
# A page number past any log is refused (a 20-digit one overflows the database's OFFSET).
Page = Annotated[int, Query(ge=1, le=1_000_000)]
router = APIRouter(prefix="/compliance", tags=["compliance pages"], include_in_schema=False)


def _app(request: Request) -> App:
    app: App = request.app.state.comms
    return app


def _render(name: str, who: Principal, *, code: int = 200, **context: Any) -> HTMLResponse:
    html = pages().get_template(name).render(who=who, **context)
    return HTMLResponse(
        html,
        status_code=code,
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


def _search(
    who: Principal,
    ledger: Ledger,
    form: Mapping[str, str],
    filters: Filters | None,
    *,
    page: int = 1,
    error: str | None = None,
    code: int = status.HTTP_200_OK,
) -> HTMLResponse:
    """The search page: the form as filled, an error if any, and the matching rows if any."""
    searched = filters is not None and not filters.is_empty()
    rows: list[Entry] = []
    total = 0
    if filters is not None and searched:
        total = ledger.count(filters)
        rows = ledger.search(filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    query = query_of(filters) if filters is not None else {}
    return _render(
        "search.html",
        who,
        code=code,
        error=error,
        form=form,
        searched=searched,
        by_subject="subject_hmac" in query,
        rows=rows,
        total=total,
        page=page,
        pages=max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        link=lambda **extra: "/compliance?" + urlencode({**query, **extra}),
        export=lambda fmt: "/deliveries/export?" + urlencode({**query, "format": fmt}),
        channels=[c.value for c in ChannelName],
        statuses=[s.value for s in Status],
    )


@router.get("", response_class=HTMLResponse)
def search_page(request: Request, who: Officer, page: Page = 1) -> HTMLResponse:
    """The search form and, when any filter is given, the matching rows."""
    ledger = _app(request).ledger
    try:
        filters = filters_from(ledger, request.query_params)
    except HTTPException as exc:
        return _search(
            who, ledger, request.query_params, None, error=exc.detail, code=exc.status_code
        )
    return _search(who, ledger, request.query_params, filters, page=page)


@router.post("/search")
def search_post(
    request: Request,
    who: Officer,
    subject: Annotated[str, Form()] = "",
    dossier: Annotated[str, Form()] = "",
    event_id: Annotated[str, Form()] = "",
    communication_id: Annotated[str, Form()] = "",
    doc_type: Annotated[str, Form()] = "",
    channel: Annotated[str, Form()] = "",
    status_: Annotated[str, Form(alias="status")] = "",
    since: Annotated[str, Form()] = "",
    until: Annotated[str, Form()] = "",
    evidence: Annotated[str, Form()] = "",
) -> Response:
    """The form posts here; the browser is sent on to a GET that carries only the HMAC."""
    ledger = _app(request).ledger
    fields = {
        "dossier": dossier,
        "event_id": event_id,
        "communication_id": communication_id,
        "doc_type": doc_type,
        "channel": channel,
        "status": status_,
        "since": since,
        "until": until,
        "evidence": evidence,
    }
    try:
        filters = filters_from(ledger, fields, subject=subject.strip() or None)
    except HTTPException as exc:
        return _search(who, ledger, fields, None, error=exc.detail, code=exc.status_code)
    # Keep the dates as typed (days stay days), but never the number: only its HMAC.
    query = {k: v.strip() for k, v in fields.items() if v.strip()}
    if filters.subject_hmac:
        query["subject_hmac"] = filters.subject_hmac
    return RedirectResponse(
        "/compliance?" + urlencode(query), status_code=status.HTTP_303_SEE_OTHER
    )


@router.get("/events/{event_id}", response_class=HTMLResponse)
def event_page(request: Request, event_id: str, who: Officer) -> HTMLResponse:
    """One communication's whole story: every row with its evidence, its documents, its readers."""
    app = _app(request)
    ledger = app.ledger
    info = ledger.event(event_id)
    history = ledger.history(event_id)
    if info is None and not history:
        return _render("message.html", who, code=404, title="Not found", text="No such event.")
    documents = []
    for sha, kind in sorted(ledger.documents_of(event_id).items(), key=lambda d: d[1]):
        graves = ledger.tombstones(content_sha256=sha)
        documents.append(
            {
                "sha256": sha,
                "kind": kind,
                "present": app.archive.exists(sha),
                "tombstone": graves[0] if graves else None,
                "href": f"/compliance/events/{quote(event_id, safe='')}/documents/{sha}",
            }
        )
    communications: dict[str, list[Entry]] = {}
    for e in history:
        if e.communication_id:
            communications.setdefault(e.communication_id, []).append(e)
    return _render(
        "event.html",
        who,
        event_id=event_id,
        info=info,
        history=history,
        communications=communications,
        notified={cid: app.notification.deemed(rows) for cid, rows in communications.items()},
        documents=documents,
        views=ledger.views(view_filters_from({"event_id": event_id}), limit=1000),
        tombstones=ledger.tombstones(event_ids=[event_id]),
    )


@router.get("/events/{event_id}/documents/{sha256}")
def document_page(request: Request, event_id: str, sha256: str, who: Officer) -> Response:
    """The archived PDF (or the email and eBox texts), served after the opening is recorded."""
    try:
        return serve_document(
            _app(request), event_id, sha256, viewer=who.name, purpose=PAGE_PURPOSE
        )
    except HTTPException as exc:
        return _render(
            "message.html",
            who,
            code=exc.status_code,
            title="Document not shown",
            text=str(exc.detail),
        )


@router.get("/views", response_class=HTMLResponse)
def views_page(request: Request, who: Officer, page: Page = 1) -> HTMLResponse:
    """Who opened which document, when: the record of openings is itself searchable."""
    filters = view_filters_from(request.query_params)
    found = _app(request).ledger.views(filters, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    query = {k: v for k, v in request.query_params.items() if k != "page" and v}
    return _render(
        "views.html",
        who,
        form=request.query_params,
        views=found,
        page=page,
        more=len(found) == PAGE_SIZE,
        link=lambda **extra: "/compliance/views?" + urlencode({**query, **extra}),
    )


@router.get("/verify", response_class=HTMLResponse)
def verify_page(request: Request, who: Officer) -> HTMLResponse:
    """Recomputes the whole chain now (seconds on a large ledger)."""
    return _render("verify.html", who, result=_app(request).ledger.verify())


def _period(params: Mapping[str, str]) -> Period:
    try:
        since, until = params.get("since") or None, params.get("until") or None
        return Period(
            since=date.fromisoformat(since) if since else None,
            until=date.fromisoformat(until) if until else None,
        )
    except ValueError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"period: {exc}") from None


@router.get("/report", response_class=HTMLResponse)
def report_page(request: Request, who: Officer) -> HTMLResponse:
    """The report with its charts (inline SVG), and links to each table as CSV."""
    period = _period(request.query_params)
    report = build_report(_app(request).ledger, period)
    query = {k: v for k, v in request.query_params.items() if k in ("since", "until") and v}
    return _render(
        "report.html",
        who,
        form=request.query_params,
        body=render_fragment(report),
        downloads=[
            (table, f"/compliance/report/{table}.csv?" + urlencode(query)) for table in TABLES
        ],
    )


@router.get("/report/{table}.csv")
def report_csv(request: Request, table: str, who: Officer) -> Response:
    if table not in TABLES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such table")
    report = build_report(_app(request).ledger, _period(request.query_params))
    return Response(
        csv_text(report, table),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{table}.csv"'},
    )
