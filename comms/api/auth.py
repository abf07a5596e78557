"""Who may call: bearer tokens (or a server-side session for the web pages), named users, roles.

Tokens are configured as SHA-256 digests, compared in constant time and never logged. A browser
signs in once with its token and then holds only a session id (comms/api/sessions.py); a form
it posts must carry the session's CSRF token.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRouter

from comms.api.sessions import ABSOLUTE_S, Sessions
from comms.settings import ApiUser, Role

SESSION_COOKIE = "comms_session"
CSRF_FIELD = "csrf_token"  # the hidden field of every form that changes something
CSRF_HEADER = "x-csrf-token"  # or this header, for a script posting on the page's behalf
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a name for the audit trail and the roles it holds."""

    name: str
    roles: frozenset[Role]
    csrf_token: str | None = None  # set when signed in by a browser session, for its forms


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def find_user(users: list[ApiUser], token: str) -> Principal | None:
    """Checks every user, in constant time per comparison, so timing does not reveal a match."""
    digest = token_digest(token)
    found: Principal | None = None
    for user in users:
        if hmac.compare_digest(digest, user.token_sha256.get_secret_value()):
            found = Principal(user.name, frozenset(user.roles))
    return found


def sessions_of(request: Request) -> Sessions:
    """One session store per API, over the service's database."""
    state = request.app.state
    if not hasattr(state, "sessions"):
        state.sessions = Sessions(state.comms.ledger.engine)
    found: Sessions = state.sessions
    return found


def _authenticate(request: Request) -> Principal | None:
    users: list[ApiUser] = request.app.state.comms.settings.api_users
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return find_user(users, header[7:].strip())
    session_id = request.cookies.get(SESSION_COOKIE)
    session = sessions_of(request).resume(session_id) if session_id else None
    if session is None:
        return None
    # Roles are read from the settings at each request: a user removed there is signed out.
    user = next((u for u in users if u.name == session.user_name), None)
    if user is None:
        return None
    return Principal(user.name, frozenset(user.roles), csrf_token=session.csrf_token)


async def current_principal(request: Request) -> Principal:
    principal = await asyncio.to_thread(_authenticate, request)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or unknown token, or the session ended",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if principal.csrf_token is not None and request.method not in SAFE_METHODS:
        await _check_csrf(request, principal.csrf_token)
    return principal


async def _check_csrf(request: Request, expected: str) -> None:
    """A cookie travels with any request the browser makes; the token only with our own forms."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if sent is None or not hmac.compare_digest(sent.encode(), expected.encode()):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "this form lacks its CSRF token: reload the page and retry"
        )


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that lets only callers holding `role` through."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if role not in principal.roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {role} role is required")
        return principal

    return check


def require_page(role: Role) -> Callable[..., Awaitable[Principal]]:
    """`require(role)` for web pages: a browser without a live session is sent to sign in."""

    async def check(request: Request) -> Principal:
        try:
            principal = await current_principal(request)
        except HTTPException as exc:
            if exc.status_code != status.HTTP_401_UNAUTHORIZED:
                raise
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            raise HTTPException(
                status.HTTP_303_SEE_OTHER, headers={"Location": f"/login?next={quote(target)}"}
            ) from None
        if role not in principal.roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {role} role is required")
        return principal

    return check


router = APIRouter(tags=["login"])

_LOGIN_PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>comms: sign in</title></head>
<body><main><h1>Sign in</h1>{error}
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label>Access token <input type="password" name="token" autocomplete="off" required></label>
<button type="submit">Sign in</button></form></main></body></html>"""


def _safe_next(target: str) -> str:
    return target if target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(next: str = "/") -> HTMLResponse:
    from html import escape

    return HTMLResponse(_LOGIN_PAGE.format(error="", next=escape(_safe_next(next))))


@router.post("/login", include_in_schema=False)
def login(
    request: Request, token: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    """Web pages work without JavaScript, so the token travels once in a form, then as a cookie."""
    from html import escape

    user = find_user(request.app.state.comms.settings.api_users, token)
    if user is None:
        page = _LOGIN_PAGE.format(
            error="<p role='alert'>Unknown token.</p>", next=escape(_safe_next(next))
        )
        return HTMLResponse(page, status_code=status.HTTP_401_UNAUTHORIZED)
    # A new id at every sign-in (a fixed one could be planted before it); the old one ends.
    session_id = sessions_of(request).start(
        user.name, replacing=request.cookies.get(SESSION_COOKIE)
    )
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=ABSOLUTE_S,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
    )
    return response


def _secure(request: Request) -> bool:
    """Production cookies go over HTTPS only, even behind a proxy that speaks HTTP to us."""
    return bool(
        request.app.state.comms.settings.environment == "production"
        or request.url.scheme == "https"
    )


@router.post("/logout", include_in_schema=False)
async def logout(request: Request) -> Response:
    """Ends the session on the server: the cookie, replayed later, opens nothing."""
    session_id = request.cookies.get(SESSION_COOKIE)
    store = sessions_of(request)
    live = await asyncio.to_thread(store.resume, session_id) if session_id else None
    if session_id and live is not None:
        await _check_csrf(request, live.csrf_token)  # a page elsewhere may not sign us out
        await asyncio.to_thread(store.end, session_id)
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(
        SESSION_COOKIE, httponly=True, samesite="strict", secure=_secure(request)
    )
    return response
