"""Refuses text no database stores (NUL, unpaired surrogates) in paths, queries and forms, by field.

SQLite takes a NUL where PostgreSQL raises `DataError`, so without this the same request is a 404
on one database and a 500 on the other. Checked once here, before any route reads a parameter.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from comms.api.compliance_query import FILTER_PARAMS
from comms.events import is_storable_text

MAX_FORM_BYTES = 1_000_000  # a form is a few fields; an event pasted in the studio is a few KB
# Parameter names the API itself defines, so an answer may name them; any other is "query".
PUBLIC_NAMES = frozenset(FILTER_PARAMS) | {
    "document",
    "viewer",
    "limit",
    "offset",
    "page",
    "format",
    "next",
    "token",
    "subject",
    "decision",
    "reason",
    "note",
    "event",
    "csrf_token",
    "url",  # POST /webhooks
    "types",
    "after",  # GET /events/changes
}
FORM = "application/x-www-form-urlencoded"


class StorableText:
    """ASGI middleware: a 422 naming the field for a path, query or form that holds NUL."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        problem = _path_problem(scope) or _pairs_problem(
            "query", scope.get("query_string", b"").decode("latin-1")
        )
        if problem is None and _is_form(scope):
            body = await _read_all(receive)
            if body is None:
                await _answer(send, 413, "the form", "is larger than a form can be")
                return
            problem = _pairs_problem("form", body.decode("latin-1"))
            receive = _replay(body)
        if problem is not None:
            await _answer(send, 422, *problem)
            return
        await self.app(scope, receive, send)


def _path_problem(scope: Scope) -> tuple[str, str] | None:
    path = str(scope.get("path", ""))
    return None if is_storable_text(path) else ("path", "holds a NUL character")


def _pairs_problem(where: str, encoded: str) -> tuple[str, str] | None:
    """The first name or value that is not storable, decoded the way Starlette decodes them."""
    for name, value in parse_qsl(encoded, keep_blank_values=True):
        if not is_storable_text(name):
            return where, "a parameter name holds a NUL character"
        if not is_storable_text(value):
            field = f"{where}.{name}" if name in PUBLIC_NAMES else where
            return field, "holds a NUL character"
    return None


def _is_form(scope: Scope) -> bool:
    for key, value in scope.get("headers", []):
        if key == b"content-type":
            return bool(value.decode("latin-1").lower().startswith(FORM))
    return False


async def _read_all(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


async def _answer(send: Send, code: int, field: str, message: str) -> None:
    body = json.dumps(
        {"detail": f"{field}: {message}", "errors": [{"field": field, "message": message}]}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": code,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def without_input(request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422 for a bad parameter, without the `input` it quotes (it may be personal)."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if str(p) in PUBLIC_LOCATIONS),
            "message": str(err.get("msg", "invalid")),
        }
        for err in exc.errors()
    ]
    return JSONResponse({"detail": "invalid request", "errors": errors}, status_code=422)


# What a FastAPI error location may name: where the parameter was, and our own parameter names.
PUBLIC_LOCATIONS = PUBLIC_NAMES | {"query", "path", "header", "cookie", "body"}
