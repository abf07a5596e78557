"""TokenSource caching rules, with a stand-in token endpoint and a hand-driven clock."""

from __future__ import annotations

import time
from collections.abc import Callable

import httpx
import pytest

from channels.base import TransientError
from channels.ebox_auth import TokenSource

SCOPE = "scope:document:management:consult:ws-eboxrestentreprise:publicationsender"
TOKEN_URL = "https://oauth.example/REST/oauth/v5/token"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def endpoint(lifetime_s: int, calls: list[int]) -> Callable[[httpx.Request], httpx.Response]:
    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(
            200,
            json={
                "access_token": f"t{len(calls)}",
                "token_type": "Bearer",
                "expires_in": lifetime_s,
            },
        )

    return answer


@pytest.mark.parametrize(
    ("lifetime_s", "reused_at_s", "renewed_at_s"),
    [(300, 239, 241), (10, 4, 6)],  # a minute early; half the life early for short tokens
)
async def test_token_is_reused_until_shortly_before_expiry(
    ebox_keys: tuple[bytes, bytes], lifetime_s: int, reused_at_s: int, renewed_at_s: int
) -> None:
    """One fetch serves many sends; the renewal comes before the token can die in flight."""
    calls: list[int] = []
    clock = Clock()
    source = TokenSource(
        token_url=TOKEN_URL, client_id="comms-test", private_key_pem=ebox_keys[0], clock=clock
    )
    async with httpx.AsyncClient(
        transport=httpx.MockTransport(endpoint(lifetime_s, calls))
    ) as http:
        start = clock.now
        assert await source.token(http, SCOPE) == "t1"
        clock.now = start + reused_at_s
        assert await source.token(http, SCOPE) == "t1"
        clock.now = start + renewed_at_s
        assert await source.token(http, SCOPE) == "t2"
        source.invalidate(SCOPE)
        assert await source.token(http, SCOPE) == "t3"


@pytest.mark.parametrize(
    ("status", "body", "retry_after_s"),
    [(503, {}, 60.0), (401, {"error": "invalid_client"}, 300.0)],
)
async def test_token_endpoint_failures_are_transient(
    ebox_keys: tuple[bytes, bytes], status: int, body: dict[str, str], retry_after_s: float
) -> None:
    """An unavailable endpoint retries soon; a refused client waits for an operator."""
    transport = httpx.MockTransport(lambda request: httpx.Response(status, json=body))
    source = TokenSource(token_url=TOKEN_URL, client_id="comms-test", private_key_pem=ebox_keys[0])

    async with httpx.AsyncClient(transport=transport) as http:
        with pytest.raises(TransientError) as caught:
            await source.token(http, SCOPE)

    assert caught.value.retry_after_s == retry_after_s
