"""Web sign-in is a server-side session that ends; every form that changes something has a CSRF token."""

from __future__ import annotations

import dataclasses
import json
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from comms.api import create_api, sessions
from comms.api.auth import SESSION_COOKIE
from comms.app import App
from comms.samples import load_sample
from tests.api.conftest import COMPLIANCE_TOKEN, STAFF_TOKEN

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def sign_in(client: TestClient, token: str, page: str) -> str:
    """Signs in through the form; the CSRF token the page then carries."""
    response = client.post("/login", data={"token": token, "next": page})
    assert response.status_code == 200, response.text
    found = CSRF.search(response.text)
    assert found, "the page has no CSRF token"
    return found.group(1)


def test_the_cookie_is_a_session_id_that_sign_out_ends_for_good(client: TestClient) -> None:
    csrf = sign_in(client, COMPLIANCE_TOKEN, "/compliance")
    cookie = client.cookies[SESSION_COOKIE]
    assert COMPLIANCE_TOKEN not in cookie and len(cookie) >= 40

    out = client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"

    # Replaying the cookie (as a thief who copied it would) opens nothing.
    client.cookies.set(SESSION_COOKIE, cookie)
    replay = client.get("/compliance", follow_redirects=False)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/login")
    assert client.get("/deliveries").status_code == 401


def test_signing_in_again_rotates_the_id_and_ends_the_old_session(client: TestClient) -> None:
    sign_in(client, COMPLIANCE_TOKEN, "/compliance")
    first = client.cookies[SESSION_COOKIE]
    sign_in(client, COMPLIANCE_TOKEN, "/compliance")
    second = client.cookies[SESSION_COOKIE]
    assert first != second
    client.cookies.set(SESSION_COOKIE, first)
    assert client.get("/compliance", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("later", "busy"),
    [
        (timedelta(seconds=sessions.IDLE_S + 1), False),  # left idle
        (timedelta(seconds=sessions.ABSOLUTE_S + 1), True),  # used all day long
    ],
)
def test_a_session_ends_when_idle_and_after_a_working_day(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, later: timedelta, busy: bool
) -> None:
    start = datetime.now(sessions.UTC)
    clock = [start]
    monkeypatch.setattr(sessions, "now", lambda: clock[0])
    sign_in(client, COMPLIANCE_TOKEN, "/compliance")
    if busy:  # a page every 20 minutes: never idle
        while clock[0] - start < later - timedelta(minutes=20):
            clock[0] += timedelta(minutes=20)
            assert client.get("/compliance", follow_redirects=False).status_code == 200
    clock[0] = start + later
    assert client.get("/compliance", follow_redirects=False).status_code == 303


def test_the_cookie_is_secure_httponly_and_strict_in_production(comms_app: App) -> None:
    settings = comms_app.settings.model_copy(update={"environment": "production"})
    prod = create_api(dataclasses.replace(comms_app, settings=settings))
    with TestClient(prod) as client:
        response = client.post("/login", data={"token": COMPLIANCE_TOKEN}, follow_redirects=False)
    cookie = response.headers["set-cookie"].lower()
    assert "secure" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_a_form_without_its_csrf_token_changes_nothing(client: TestClient) -> None:
    csrf = sign_in(client, STAFF_TOKEN, "/studio")
    pasted = {"event": json.dumps(load_sample("tax-certificate-nl"))}
    # A page elsewhere that makes the browser post (the cookie goes along, the token does not).
    assert client.post("/studio/preview", data=pasted).status_code == 403
    assert client.post("/studio/publish", data={"note": "x"}).status_code == 403
    assert client.post("/logout", data={}, follow_redirects=False).status_code == 403
    assert client.get("/studio", follow_redirects=False).status_code == 200  # still signed in
    wrong = {**pasted, "csrf_token": "0" * 64}
    assert client.post("/studio/preview", data=wrong).status_code == 403
    assert client.post("/studio/preview", data={**pasted, "csrf_token": csrf}).status_code == 200


def test_the_compliance_search_form_needs_its_token_too(client: TestClient) -> None:
    csrf = sign_in(client, COMPLIANCE_TOKEN, "/compliance")
    assert client.post("/compliance/search", data={"dossier": "D-1"}).status_code == 403
    ok = client.post("/compliance/search", data={"dossier": "D-1", "csrf_token": csrf})
    assert ok.status_code == 200
