"""Who may call: bearer tokens (or a login cookie for the web pages) mapped to named users and roles.

Tokens are configured as SHA-256 digests, compared in constant time and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import quote

from fastapi import Depends, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRouter

from comms.settings import ApiUser, Role

SESSION_COOKIE = "comms_session"
SESSION_MAX_AGE_S = 8 * 3600  # one working day


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: a name for the audit trail and the roles it holds."""

    name: str
    roles: frozenset[Role]


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


def _token_from(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip()
    return request.cookies.get(SESSION_COOKIE)


def current_principal(request: Request) -> Principal:
    token = _token_from(request)
    principal = find_user(request.app.state.comms.settings.api_users, token) if token else None
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or unknown token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


def require(role: Role) -> Callable[..., Principal]:
    """A dependency that lets only callers holding `role` through."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if role not in principal.roles:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {role} role is required")
        return principal

    return check


def require_page(role: Role) -> Callable[[Request], Principal]:
    """Like `require(role)`, but a browser without a session is sent to the sign-in page."""

    def check(request: Request) -> Principal:
        try:
            principal = current_principal(request)
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

    if find_user(request.app.state.comms.settings.api_users, token) is None:
        page = _LOGIN_PAGE.format(
            error="<p role='alert'>Unknown token.</p>", next=escape(_safe_next(next))
        )
        return HTMLResponse(page, status_code=status.HTTP_401_UNAUTHORIZED)
    response = RedirectResponse(_safe_next(next), status_code=status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE_S,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/logout", include_in_schema=False)
def logout() -> Response:
    response = RedirectResponse("/login", status_code=status.HTTP_303_SEE_OTHER)
    response.delete_cookie(SESSION_COOKIE)
    return response
