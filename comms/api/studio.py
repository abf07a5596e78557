"""`/studio`: staff see a letter as the member would, in Dutch and French, while they edit it.

Pages work without JavaScript; a small script only reloads them when a template file changes.
Approvals happen here too, under the signed-in name, so "who approved" is who signed in.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRouter
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from comms.api.auth import Principal, require, require_page
from comms.app import App, working_composer
from comms.compose.check import check_templates, static_problems
from comms.compose.checks.problems import Problem
from comms.compose.checks.rendering import SampleRenderer
from comms.compose.preview import pair, preview
from comms.doctypes import DOC_TYPES
from comms.errors import InvalidEvent
from comms.events import parse_event
from comms.models import Language, today_in_brussels
from comms.samples import all_samples
from comms.templates_store import PublishingRefused, TemplateStore, cache_dir
from comms.templates_store.publishing import CheckFailed, publish, working_versions

PAGES = Path(__file__).resolve().parent / "pages" / "studio"
ASSETS = {"studio.js": "text/javascript", "studio.css": "text/css"}
MAX_EVENT_CHARS = (
    200_000  # a pasted event; real ones are a few kB, statements with 500 lines ~100 kB
)
LANGUAGE_NAMES = {Language.NL: "Nederlands", Language.FR: "Français"}
# The studio shows member-like data and template HTML: nothing may load from elsewhere, and the
# email preview (srcdoc iframe, no scripts) inherits this policy.
CSP = (
    "default-src 'none'; img-src data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

pages = Environment(
    loader=FileSystemLoader(PAGES),
    autoescape=select_autoescape(default=True, default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
pages.filters["b64"] = lambda data: base64.b64encode(data).decode("ascii")
pages.filters["short"] = lambda version: (version or "")[:12]


Staff = Annotated[Principal, Depends(require_page("staff"))]
# A form from elsewhere is refused by the session's CSRF token (comms.api.auth), proxy or not.
StaffPost = Annotated[Principal, Depends(require("staff"))]

router = APIRouter(prefix="/studio", tags=["studio"], include_in_schema=False)


class Studio:
    """What the pages share: the working copy's composer and the store, built once per API."""

    def __init__(self, app: App) -> None:
        self.settings = app.settings
        self.templates_dir = app.settings.templates_dir.resolve()
        self.pdf = app.pdf
        self.composer = working_composer(app.settings, pdf=self.pdf)
        self._store: TemplateStore | None = None
        self._checked: tuple[str, list[Problem]] | None = None

    @property
    def store(self) -> TemplateStore:
        if self._store is None:  # the App has migrated the database already
            self._store = TemplateStore.open(
                self.settings.effective_database_url, cache_dir(self.settings)
            )
        return self._store

    def token(self) -> str:
        """Changes whenever any template file is saved, added or removed."""
        digest = hashlib.sha256()
        for path in sorted(self.templates_dir.rglob("*")):
            if path.is_file():
                stat = path.stat()
                digest.update(
                    f"{path.relative_to(self.templates_dir)}:{stat.st_mtime_ns}:{stat.st_size};".encode()
                )
        return digest.hexdigest()[:16]

    def problems(self) -> list[Problem]:
        """The reading checks, redone only when a file changed."""
        token = self.token()
        if self._checked is None or self._checked[0] != token:
            self._checked = (token, static_problems(self.templates_dir))
        return self._checked[1]


def studio(request: Request) -> Studio:
    state = request.app.state
    if not hasattr(state, "studio"):
        state.studio = Studio(state.comms)
    found: Studio = state.studio
    return found


def page(name: str, code: int = 200, **values: Any) -> HTMLResponse:
    values.setdefault("problems", [])
    html = pages.get_template(name).render(**values)
    return HTMLResponse(html, status_code=code, headers={"Content-Security-Policy": CSP})


def concerns(problem: Problem, doc_type: str) -> bool:
    """Whether a problem is in a file this type's letters are made from."""
    mine = [f"{lang.value}/{doc_type}/" for lang in Language]
    shared = [f"{lang.value}/_common/" for lang in Language] + [
        f"{lang.value}/fund.toml" for lang in Language
    ]
    return problem.file.startswith((*mine, *shared, "shared/", f"samples/{doc_type}"))


@router.get("", response_class=HTMLResponse)
def index(request: Request, who: Staff) -> HTMLResponse:
    s = studio(request)
    problems = s.problems()
    working = working_versions(s.templates_dir, DOC_TYPES)
    live = s.store.publications.live_versions()
    rows = [
        {
            "doc_type": t,
            "problems": sum(1 for p in problems if concerns(p, t)),
            "langs": [
                {"lang": lang.value, "working": working[(t, lang)], "live": live.get((t, lang), "")}
                for lang in Language
            ],
        }
        for t in DOC_TYPES
    ]
    return page("index.html", who=who, rows=rows, problems=problems, token=s.token())


@router.get("/changes")
def changes(request: Request, _: Staff) -> JSONResponse:
    """Polled by the pages' script; cheap: it only reads the files' sizes and times."""
    return JSONResponse({"token": studio(request).token()}, headers={"Cache-Control": "no-store"})


@router.get("/assets/{name}")
def asset(name: str) -> Response:
    if name not in ASSETS:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    return Response((PAGES / name).read_bytes(), media_type=ASSETS[name])


@router.get("/publications", response_class=HTMLResponse)
def publications(request: Request, who: Staff) -> HTMLResponse:
    found = studio(request).store.publications.history(limit=50)
    return page("publications.html", who=who, publications=found, message="")


@router.get("/publications/{publication_id}", response_class=HTMLResponse)
def publication(request: Request, publication_id: int, who: Staff) -> HTMLResponse:
    store = studio(request).store
    try:
        p = store.publications.get(publication_id)
    except PublishingRefused:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such publication") from None
    changes = {
        f"{i.language.value}/{i.doc_type}": store.snapshots.changes(i.previous_version, i.version)
        for i in p.items
    }
    return page("publication.html", who=who, p=p, changes=changes, message="")


@router.post("/publications/{publication_id}", response_class=HTMLResponse)
def decide(
    request: Request,
    publication_id: int,
    who: StaffPost,
    decision: Annotated[str, Form()],
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Approve or reject under the signed-in name; the requester cannot (four eyes)."""
    store = studio(request).store
    try:
        store.publications.decide(
            publication_id, by=who.name, approve=decision == "approve", reason=reason
        )
    except PublishingRefused as exc:
        found = store.publications.history(limit=50)
        return page("publications.html", 409, who=who, publications=found, message=str(exc))
    return RedirectResponse(f"/studio/publications/{publication_id}", status.HTTP_303_SEE_OTHER)


@router.post("/publish", response_class=HTMLResponse)
def request_publication(
    request: Request, who: StaffPost, note: Annotated[str, Form()] = ""
) -> Response:
    """Runs the full check on a frozen copy, stores what changed, and waits for a second person."""
    s = studio(request)
    try:
        outcome = publish(
            s.store,
            s.templates_dir,
            by=who.name,
            note=note.strip() or None,
            make_composer=lambda folder: working_composer(
                s.settings, templates_dir=folder, pdf=s.pdf
            ),
            check=lambda composer, types: check_templates(composer, doc_types=types),
        )
    except CheckFailed as exc:
        found = s.store.publications.history(limit=50)
        return page(
            "publications.html",
            422,
            who=who,
            publications=found,
            message=str(exc),
            problems=exc.report.problems,
        )
    except PublishingRefused as exc:
        found = s.store.publications.history(limit=50)
        return page("publications.html", 409, who=who, publications=found, message=str(exc))
    if outcome.publication is None:
        found = s.store.publications.history(limit=50)
        message = "Nothing to publish: the approved versions are the same as the working copy."
        return page("publications.html", who=who, publications=found, message=message)
    return RedirectResponse(
        f"/studio/publications/{outcome.publication.id}", status.HTTP_303_SEE_OTHER
    )


@router.post("/preview", response_class=HTMLResponse)
def preview_pasted(request: Request, who: StaffPost, event: Annotated[str, Form()]) -> HTMLResponse:
    """A pasted event, shown in both languages; its text is data, never a template."""
    s = studio(request)
    if len(event) > MAX_EVENT_CHARS:
        return _preview_page(
            s,
            who,
            None,
            {},
            event,
            [f"The event is longer than {MAX_EVENT_CHARS} characters."],
            413,
        )
    try:
        raw = json.loads(event)
    except json.JSONDecodeError as exc:
        message = f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
        return _preview_page(s, who, None, {}, event, [message], 422)
    try:
        parsed = parse_event(raw) if isinstance(raw, dict) else None
    except InvalidEvent as exc:
        return _preview_page(s, who, None, {}, event, [str(e) for e in exc.errors], 422)
    if parsed is None:
        return _preview_page(s, who, None, {}, event, ["An event is a JSON object: { … }."], 422)
    events = {lang: ("", raw) for lang in Language}
    return _preview_page(s, who, parsed.type, events, event, [], 200, pasted=True)


@router.get("/{doc_type}", response_class=HTMLResponse)
def preview_sample(request: Request, doc_type: str, who: Staff, sample: str = "") -> HTMLResponse:
    if doc_type not in DOC_TYPES:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such document type")
    s = studio(request)
    samples = all_samples()
    families = pair(samples, doc_type)
    if not families:
        errors = ["There is no sample event for this type."]
        return _preview_page(s, who, doc_type, {}, "", errors, 200)
    family = sample if sample in families else sorted(families)[0]
    events = {lang: (name, samples[name]) for lang, name in families[family].items()}
    text = json.dumps(samples[families[family][Language.NL]], indent=2, ensure_ascii=False)
    return _preview_page(
        s, who, doc_type, events, text, [], 200, sample=family, samples=sorted(families)
    )


def _preview_page(
    s: Studio,
    who: Principal,
    doc_type: str | None,
    events: Mapping[Language, tuple[str, Mapping[str, Any]]],
    text: str,
    errors: list[str],
    code: int,
    *,
    sample: str = "",
    samples: list[str] | None = None,
    pasted: bool = False,
) -> HTMLResponse:
    sides = []
    if doc_type is not None and events:
        renderer = SampleRenderer(s.composer, today_in_brussels())
        sides = list(preview(renderer, events).values())
    problems = [p for p in s.problems() if doc_type and concerns(p, doc_type)]
    return page(
        "preview.html",
        code,
        who=who,
        doc_type=doc_type or "",
        sample=sample,
        samples=samples or [],
        text=text,
        errors=errors,
        problems=problems,
        sides=sides,
        names=LANGUAGE_NAMES,
        pasted=pasted,
        token=s.token(),
    )
