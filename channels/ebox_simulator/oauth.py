"""The simulator's token endpoint (private_key_jwt) and the bearer check its API routes use."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from channels.ebox_simulator.rules import RegistryError
from channels.ebox_simulator.state import SimulatorConfig, SimulatorState

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW_S = 5  # leeway on exp/iat between our clock and the client's

router = APIRouter()


def _oauth_error(status: int, error: str) -> JSONResponse:
    """RFC 6749 §5.2 error answer."""
    return JSONResponse({"error": error}, status_code=status)


@router.post("/token")
async def token(request: Request) -> JSONResponse:
    config: SimulatorConfig = request.app.state.config
    state: SimulatorState = request.app.state.sim
    form = await request.form()
    if form.get("grant_type") != "client_credentials":
        return _oauth_error(400, "unsupported_grant_type")
    assertion = form.get("client_assertion")
    if form.get("client_assertion_type") != CLIENT_ASSERTION_TYPE or not isinstance(assertion, str):
        return _oauth_error(400, "invalid_request")
    audience = config.token_audience or str(request.url.replace(query=""))
    try:
        claims: dict[str, Any] = jwt.decode(
            assertion,
            config.public_key_pem,
            algorithms=["RS256"],
            audience=audience,
            leeway=CLOCK_SKEW_S,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
        )
    except jwt.PyJWTError:
        return _oauth_error(401, "invalid_client")
    if claims["iss"] != config.client_id or claims["sub"] != config.client_id:
        return _oauth_error(401, "invalid_client")
    with state.lock:
        replayed = claims["jti"] in state.used_jti
        state.used_jti.add(claims["jti"])
    if replayed:  # RFC 7523 §3 item 7: a JWT may be used only once
        return _oauth_error(401, "invalid_client")
    scopes = frozenset(str(form.get("scope", "")).split())
    if not scopes or not scopes <= config.scopes:
        return _oauth_error(400, "invalid_scope")
    value = secrets.token_urlsafe(32)
    state.issue(value, config.client_id, scopes, config.token_lifetime_s)
    return JSONResponse(
        {
            "access_token": value,
            "token_type": "Bearer",
            "expires_in": int(config.token_lifetime_s),
            "scope": " ".join(sorted(scopes)),
        }
    )


def require_scope(scope: str) -> Callable[[Request], Awaitable[str]]:
    """A dependency that answers 401/403 like the registry, or yields the calling client's id."""

    async def check(request: Request) -> str:
        state: SimulatorState = request.app.state.sim
        kind, _, value = request.headers.get("Authorization", "").partition(" ")
        found = state.bearer(value) if kind.lower() == "bearer" and value else None
        if found is None:
            raise RegistryError(
                "UNAUTHORIZED",
                "missing, unknown or expired bearer token",
                status=401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        client_id, scopes = found
        if scope not in scopes:
            raise RegistryError("FORBIDDEN", "token lacks the required scope", status=403)
        return client_id

    return check
