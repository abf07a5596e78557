"""The HTTP door: accepted means in the ledger and on its queue; repeats, conflicts and bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import redis
from fastapi.testclient import TestClient

from comms.api import create_api
from comms.app import build_app
from comms.models import Status
from comms.service.jobs import BULK_QUEUE, URGENT_QUEUE, job_id
from comms.settings import Settings
from tests.service.conftest import (
    COMPLIANCE_TOKEN,
    OPERATOR_TOKEN,
    PRODUCER_TOKEN,
    event,
)

PRODUCER = {"Authorization": f"Bearer {PRODUCER_TOKEN}"}


@pytest.fixture
def client(service_settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_api(build_app(service_settings))) as c:
        yield c


@pytest.fixture
def r(service_settings: Settings) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(service_settings.redis_url)
    yield client
    client.close()


def post(client: TestClient, raw: dict | str, headers: dict[str, str] = PRODUCER):
    body = raw if isinstance(raw, str) else json.dumps(raw)
    return client.post("/events", content=body, headers=headers)


def test_an_event_is_recorded_queued_by_id_only_and_answered_202(
    client: TestClient, r: redis.Redis, service_settings: Settings
) -> None:
    raw = event("tax-certificate-nl", "api-tax-00000001")
    response = post(client, raw)
    assert response.status_code == 202
    body = response.json()
    assert body["event_id"] == "api-tax-00000001" and body["duplicate"] is False
    assert body["status_url"].endswith("/events/api-tax-00000001")
    assert response.headers["location"] == body["status_url"]

    # In the ledger as accepted, before anyone was told so.
    app = client.app.state.comms  # type: ignore[attr-defined]
    assert [e.status for e in app.ledger.history("api-tax-00000001")] == [Status.ACCEPTED]
    # On the bulk queue, carrying the id and nothing of the member.
    assert r.zrange(BULK_QUEUE, 0, -1) == [job_id("api-tax-00000001").encode()]
    dump = b"".join(r.dump(k) or b"" for k in r.keys("*"))
    for personal in (b"An Peeters", b"85073003328", b"Kerkstraat", b"an.peeters", b"812.34"):
        assert personal not in dump

    # A decision goes on the urgent queue.
    assert post(client, event("decision-fr", "api-dec-00000001")).status_code == 202
    assert r.zrange(URGENT_QUEUE, 0, -1) == [job_id("api-dec-00000001").encode()]

    # Its status, for the producer.
    status = client.get("/events/api-tax-00000001", headers=PRODUCER).json()
    assert status["outcome"] == "in_progress" and status["state"] == "accepted"
    assert status["history"][0]["status"] == "accepted" and status["deliveries"] == []


def test_the_same_event_again_is_the_same_answer_and_no_second_job(
    client: TestClient, r: redis.Redis
) -> None:
    raw = event("contribution-notice-nl", "api-dup-00000001")
    first, second = post(client, raw), post(client, raw)
    assert first.status_code == second.status_code == 202
    assert first.json()["status_url"] == second.json()["status_url"]
    assert second.json()["duplicate"] is True
    assert r.zcard(BULK_QUEUE) == 1


def test_the_same_id_with_other_content_is_a_conflict(client: TestClient, r: redis.Redis) -> None:
    assert post(client, event("tax-certificate-nl", "api-cfl-00000001")).status_code == 202
    response = post(client, event("tax-certificate-nl", "api-cfl-00000001", dossier="D-999999"))
    assert response.status_code == 409
    assert response.json()["event_id"] == "api-cfl-00000001"
    assert r.zcard(BULK_QUEUE) == 1


def test_bad_input_is_422_with_field_errors_kept_as_rejected_and_never_echoed(
    client: TestClient, r: redis.Redis
) -> None:
    raw = event("decision-nl", "api-bad-00000001")
    raw["payload"]["reasons_in_fact"] = []
    raw["recipient"]["national_number"] = "85073003399"  # check digits wrong
    response = post(client, raw)
    assert response.status_code == 422
    body = response.json()
    fields = {e["field"] for e in body["errors"]}
    assert fields == {"payload.reasons_in_fact", "recipient.national_number"}
    assert "85073003399" not in response.text and "An Peeters" not in response.text
    assert body["event_id"] == "api-bad-00000001"
    app = client.app.state.comms  # type: ignore[attr-defined]
    kept = app.ledger.rejections()
    assert kept[0].event_id == "api-bad-00000001" and kept[0].source == "http:upstream"
    assert app.ledger.history("api-bad-00000001")[-1].status is Status.REJECTED
    assert not r.zcard(BULK_QUEUE) and not r.zcard(URGENT_QUEUE)

    broken = post(client, '{"event_id": "x", ')
    assert broken.status_code == 422 and broken.json()["errors"][0]["field"] == "(event)"


def test_only_producers_post_and_read_events(client: TestClient) -> None:
    raw = event("tax-certificate-nl", "api-auth-0000001")
    assert post(client, raw, headers={}).status_code == 401
    assert post(client, raw, headers={"Authorization": "Bearer nope"}).status_code == 401
    compliance = {"Authorization": f"Bearer {COMPLIANCE_TOKEN}"}
    assert post(client, raw, headers=compliance).status_code == 403
    assert client.get("/events/api-auth-0000001", headers=compliance).status_code == 403
    assert client.get("/events/nothing-here-000", headers=PRODUCER).status_code == 404


def test_health_names_redis_and_metrics_need_the_operator_role(
    client: TestClient, service_settings: Settings
) -> None:
    assert client.get("/health").json()["checks"] == {"database": "ok", "redis": "ok"}
    post(client, event("tax-certificate-nl", "api-met-00000001"))
    assert client.get("/metrics", headers=PRODUCER).status_code == 403
    text = client.get("/metrics", headers={"Authorization": f"Bearer {OPERATOR_TOKEN}"}).text
    assert (
        'comms_events_received_total{door="http",outcome="accepted",type="tax_certificate"}' in text
    )
    assert 'comms_queue_depth{queue="bulk"} 1.0' in text

    away = service_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_api(build_app(away))) as c:
        response = c.get("/health")
    assert response.status_code == 503 and response.json()["checks"]["redis"] == "unavailable"


def test_with_redis_away_the_event_is_still_accepted_for_the_sweeper(
    service_settings: Settings,
) -> None:
    away = service_settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_api(build_app(away))) as c:
        response = post(c, event("tax-certificate-nl", "api-away-0000001"))
        app = c.app.state.comms  # type: ignore[attr-defined]
        assert response.status_code == 202
        assert [e.status for e in app.ledger.history("api-away-0000001")] == [Status.ACCEPTED]


def test_openapi_documents_the_event_contract(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]
    assert "$defs" not in json.dumps(body) and "tax_certificate" in json.dumps(body)
    assert client.get("/docs").status_code == 200
