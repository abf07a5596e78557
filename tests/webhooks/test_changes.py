"""`GET /events/changes` and `/webhooks` over HTTP: a producer's own changes, each exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from comms.api import create_api
from comms.api.auth import token_digest
from comms.app import App, build_app
from comms.models import ChannelName, Status
from comms.samples import load_sample
from comms.settings import load_settings
from tests.webhooks.conftest import accept_from

MINE = {"Authorization": "Bearer mine"}
THEIRS = {"Authorization": "Bearer theirs"}


@pytest.fixture
def app(tmp_path: Path) -> Iterator[App]:
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "var",
        redis_url="redis://127.0.0.1:1/0",  # no queue: accepted events wait for the sweeper
        api_users=[
            {"name": "upstream", "roles": ["producer"], "token_sha256": token_digest("mine")},
            {"name": "other", "roles": ["producer"], "token_sha256": token_digest("theirs")},
            {"name": "alice", "roles": ["compliance"], "token_sha256": token_digest("officer")},
        ],
    )
    built = build_app(settings)
    yield built
    built.ledger.close()


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with TestClient(create_api(app)) as c:
        yield c


def history(app: App, event_id: str, producer: str) -> None:
    accept_from(app.ledger, event_id, producer)
    cid = f"{event_id}:ebox"
    for status in (
        Status.ROUTED,
        Status.RENDERED,
        Status.DISPATCHED,
        Status.DELIVERED,
        Status.READ,
    ):
        own = status is not Status.RENDERED  # the document is the event's, not the channel's
        app.ledger.record(
            event_id=event_id,
            status=status,
            communication_id=cid if own else None,
            channel=ChannelName.EBOX if own else None,
        )


def test_the_feed_resumed_from_any_cursor_yields_each_change_exactly_once(
    app: App, client: TestClient
) -> None:
    for n in range(4):
        history(app, f"mine-{n}", "upstream")
        history(app, f"theirs-{n}", "other")
    everything = client.get("/events/changes", params={"limit": 1000}, headers=MINE).json()
    seqs = [c["seq"] for c in everything["changes"]]
    assert len(seqs) == 16  # accepted, sent, delivered, read for each of my 4 events
    assert seqs == sorted(seqs) and everything["cursor"] == seqs[-1]
    assert {c["event_id"] for c in everything["changes"]} == {f"mine-{n}" for n in range(4)}
    for start in [0, *seqs]:
        got: list[int] = []
        cursor = start
        while True:
            page = client.get(
                "/events/changes", params={"after": cursor, "limit": 3}, headers=MINE
            ).json()
            if not page["changes"]:
                break
            got += [c["seq"] for c in page["changes"]]
            cursor = page["cursor"]
        assert got == [s for s in seqs if s > start]


def test_the_feed_gives_the_notification_date_once_the_member_read_it(
    app: App, client: TestClient
) -> None:
    history(app, "mine-1", "upstream")
    changes = client.get("/events/changes", headers=MINE).json()["changes"]
    by_change = {c["change"]: c for c in changes}
    assert by_change["delivered"]["notified_on"] is None  # eBox policy: the read date
    assert by_change["read"]["notified_on"] is not None
    assert "read" in by_change["read"]["notification_rule"]


def test_a_producer_manages_only_its_own_webhooks(app: App, client: TestClient) -> None:
    made = client.post(
        "/webhooks", json={"url": "http://127.0.0.1:9/x", "types": ["accepted"]}, headers=MINE
    )
    assert made.status_code == 201 and made.json()["secret"].startswith("whsec_")
    endpoint_id = made.json()["id"]
    history(app, "mine-1", "upstream")
    app.webhooks.fan_out()
    assert len(client.get(f"/webhooks/{endpoint_id}/messages", headers=MINE).json()) == 1
    assert [w["id"] for w in client.get("/webhooks", headers=MINE).json()] == [endpoint_id]
    assert client.get("/webhooks", headers=THEIRS).json() == []
    assert client.delete(f"/webhooks/{endpoint_id}", headers=THEIRS).status_code == 404
    assert client.get(f"/webhooks/{endpoint_id}/messages", headers=THEIRS).json() == []
    assert client.delete(f"/webhooks/{endpoint_id}", headers=MINE).status_code == 204
    assert "secret" not in client.get("/webhooks", headers=MINE).json()[0]


def test_a_bad_subscription_names_the_field(client: TestClient) -> None:
    answer = client.post(
        "/webhooks", json={"url": "not a url", "types": ["teleported"]}, headers=MINE
    )
    assert answer.status_code == 422
    fields = {e["field"] for e in answer.json()["errors"]}
    assert {"body.url", "body.types"} <= fields
    assert "teleported" not in answer.text and "not a url" not in answer.text


def test_the_openapi_document_describes_the_webhook(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "state-change" in spec["webhooks"]
    assert "/events/changes" in spec["paths"]


def test_the_event_status_and_the_compliance_page_give_the_notification_date(
    app: App, client: TestClient
) -> None:
    history(app, "mine-1", "upstream")
    status = client.get("/events/mine-1", headers=MINE).json()
    (delivery,) = status["deliveries"]
    read_on = client.get("/events/changes", headers=MINE).json()["changes"][-1]["notified_on"]
    assert delivery["notified_on"] == read_on
    assert "read" in delivery["notification_rule"]
    page = client.get("/compliance/events/mine-1", headers={"Authorization": "Bearer officer"})
    assert page.status_code == 200
    assert read_on in page.text and "deemed notified" in page.text


def test_events_posted_over_http_show_in_their_producers_feed_only(client: TestClient) -> None:
    event = load_sample("tax-certificate-nl")
    assert client.post("/events", json=event, headers=MINE).status_code == 202
    mine = client.get("/events/changes", headers=MINE).json()["changes"]
    assert [(c["event_id"], c["change"]) for c in mine] == [(event["event_id"], "accepted")]
    assert client.get("/events/changes", headers=THEIRS).json()["changes"] == []


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/x",
        "http://169.254.169.254/latest",
        "http://10.1.2.3/",
        "http://[::1]/",
    ],
)
def test_webhooks_to_the_funds_own_network_are_refused(
    app: App, client: TestClient, url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.settings, "webhook_allow_private_targets", False)
    answer = client.post("/webhooks", json={"url": url, "types": ["accepted"]}, headers=MINE)
    assert answer.status_code == 422
    assert "not public" in answer.json()["detail"]
