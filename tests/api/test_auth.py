"""Only /health is anonymous; tokens map to named users with roles; the web login sets a cookie."""

from __future__ import annotations

from fastapi import Depends
from fastapi.testclient import TestClient

from comms.api import create_api
from comms.api.auth import Principal, require, token_digest
from comms.app import build_app
from comms.settings import ApiUser, Settings


def client_for(settings: Settings) -> TestClient:
    users = [
        ApiUser(name="upstream", roles=["producer"], token_sha256=token_digest("p-token")),
        ApiUser(name="alice", roles=["compliance"], token_sha256=token_digest("c-token")),
    ]
    api = create_api(build_app(settings.model_copy(update={"api_users": users})))

    @api.get("/probe")
    def probe(who: Principal = Depends(require("compliance"))) -> dict[str, str]:  # noqa: B008
        return {"name": who.name}

    return TestClient(api)


def test_health_is_anonymous_and_reports_the_database(settings: Settings) -> None:
    response = client_for(settings).get("/health")
    assert response.status_code == 200 and response.json()["checks"]["database"] == "ok"


def test_roles_are_enforced(settings: Settings) -> None:
    client = client_for(settings)
    assert client.get("/probe").status_code == 401
    assert client.get("/probe", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/probe", headers={"Authorization": "Bearer p-token"}).status_code == 403
    ok = client.get("/probe", headers={"Authorization": "Bearer c-token"})
    assert ok.status_code == 200 and ok.json() == {"name": "alice"}


def test_web_login_sets_a_cookie_and_refuses_unknown_tokens(settings: Settings) -> None:
    client = client_for(settings)
    assert client.post("/login", data={"token": "nope"}).status_code == 401
    response = client.post(
        "/login", data={"token": "c-token", "next": "/probe"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"] == "/probe"
    assert client.get("/probe").json() == {"name": "alice"}
    external = client.post(
        "/login", data={"token": "c-token", "next": "//evil.example"}, follow_redirects=False
    )
    assert external.headers["location"] == "/"
