"""Bearer tokens for the eBox APIs: OAuth2 client credentials, private_key_jwt, cached per scope."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import httpx
import jwt
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from pydantic import BaseModel, StrictStr, ValidationError

from channels.base import TransientError
from channels.redact import validation_fields

log = logging.getLogger(__name__)

CLIENT_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"  # RFC 7523 §2.2
ASSERTION_LIFETIME_S = 60  # the assertion is sent at once and used once
REFRESH_MARGIN_S = 60.0  # renew a minute early, so a token never expires in flight
# ...but never more than half its life early, or a short-lived token would never be reused.
AUTH_RETRY_S = 300.0  # a refused client is a configuration problem: give operators time


@dataclass(frozen=True)
class _Token:
    value: str
    renew_at: float  # on the clock given to TokenSource


@lru_cache(maxsize=4)
def _rsa_key(pem: bytes, password: bytes | None) -> RSAPrivateKey:
    """The client key, loaded once per process: loading checks the key, a tenth of a second."""
    key = load_pem_private_key(pem, password=password)
    if not isinstance(key, RSAPrivateKey):
        raise ValueError("the eBox client key must be an RSA key (RS256)")
    return key


class TokenSource:
    """Fetches a token per scope and reuses it until a minute before it expires."""

    def __init__(
        self,
        *,
        token_url: str,
        client_id: str,
        private_key_pem: bytes,
        private_key_password: bytes | None = None,
        key_id: str | None = None,
        audience: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._key = _rsa_key(private_key_pem, private_key_password)
        self._token_url = token_url
        self._client_id = client_id
        self._key_id = key_id
        self._audience = audience or token_url  # v2: https://oauth.socialsecurity.be
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        self._lock: asyncio.Lock | None = None

    async def token(self, http: httpx.AsyncClient, scope: str) -> str:
        """A valid bearer token for `scope`; one fetch at a time, however many sends wait for it."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            cached = self._tokens.get(scope)
            if cached is not None and self._clock() < cached.renew_at:
                return cached.value
            fresh = await self._fetch(http, scope)
            self._tokens[scope] = fresh
            return fresh.value

    def invalidate(self, scope: str) -> None:
        """Forget the token for `scope` (the server answered 401 with it)."""
        self._tokens.pop(scope, None)

    def assertion(self) -> str:
        """Our signed JWT (RFC 7523 §3): iss = sub = client, aud = the token service."""
        now = int(self._clock())
        claims = {
            "iss": self._client_id,
            "sub": self._client_id,
            "aud": self._audience,
            "jti": str(uuid.uuid4()),
            "iat": now,
            "exp": now + ASSERTION_LIFETIME_S,
        }
        headers = {"kid": self._key_id} if self._key_id else None
        return jwt.encode(claims, self._key, algorithm="RS256", headers=headers)

    async def _fetch(self, http: httpx.AsyncClient, scope: str) -> _Token:
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": self.assertion(),
            "scope": scope,
        }
        started = self._clock()
        try:
            response = await http.post(self._token_url, data=form)
        except httpx.HTTPError as exc:
            raise TransientError(f"token endpoint unreachable: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientError(f"token endpoint answered {response.status_code}")
        if response.status_code != 200:
            error = _oauth_error(response)
            log.error(
                "ebox token refused", extra={"http_status": response.status_code, "error": error}
            )
            raise TransientError(f"token refused: {error}", retry_after_s=AUTH_RETRY_S)
        try:
            answer = _TokenAnswer.model_validate_json(response.content)
        except ValidationError as exc:
            fields = validation_fields(exc)
            log.error("ebox token answer has an unexpected shape", extra={"fields": fields})
            raise TransientError(
                f"token endpoint answered an unexpected shape ({fields})",
                retry_after_s=AUTH_RETRY_S,
            ) from None
        margin_s = min(REFRESH_MARGIN_S, answer.expires_in / 2)
        return _Token(answer.access_token, started + answer.expires_in - margin_s)


class _TokenAnswer(BaseModel):
    """RFC 6749 §5.1: access_token is required; expires_in is recommended (absent: no reuse)."""

    access_token: StrictStr
    expires_in: float = 0.0


def _oauth_error(response: httpx.Response) -> str:
    """RFC 6749 §5.2 `error` code, or the status when the body is not the standard shape."""
    try:
        return str(response.json()["error"])
    except (ValueError, KeyError, TypeError):
        return f"http {response.status_code}"
