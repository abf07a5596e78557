"""No input gets a 500: deep JSON, NUL characters, lone surrogates and huge numbers get a 4xx."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from comms.app import App
from comms.models import Status
from tests.api.conftest import COMPLIANCE, PRODUCER, chained_text, post_event
from tests.service.conftest import event


def test_json_nested_2000_deep_is_a_422_kept_as_rejected(
    client: TestClient, comms_app: App
) -> None:
    response = post_event(client, "[" * 2000 + "]" * 2000)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "(event)"
    assert len(comms_app.ledger.rejections()) == 1


def test_a_valid_event_with_one_field_nested_1500_deep_is_rejected_under_its_id(
    client: TestClient, comms_app: App
) -> None:
    raw = json.dumps(event("decision-nl", "deep-dec-0000001"))
    deep = raw.replace('"dossier":', '"deep": ' + "[" * 1500 + "]" * 1500 + ', "dossier":', 1)
    response = post_event(client, deep)
    assert response.status_code == 422
    assert response.json()["event_id"] == "deep-dec-0000001"
    assert comms_app.ledger.history("deep-dec-0000001")[-1].status is Status.REJECTED


def test_a_nul_in_the_event_id_is_a_field_error_and_never_stored(
    client: TestClient, comms_app: App
) -> None:
    raw = event("decision-nl", "abcdefgh\u0000")
    response = post_event(client, raw)
    assert response.status_code == 422
    assert "event_id" in {e["field"] for e in response.json()["errors"]}
    assert response.json()["event_id"] is None
    assert len(comms_app.ledger.rejections()) == 1


def test_a_nul_in_a_value_or_a_key_is_a_field_error(client: TestClient, comms_app: App) -> None:
    raw = event("decision-nl", "nul-value-000001")
    raw["recipient"]["name"] = "An\u0000Peeters"
    response = post_event(client, raw)
    assert response.status_code == 422
    assert {e["field"] for e in response.json()["errors"]} == {"recipient.name"}

    raw = event("decision-nl", "nul-key-0000001")
    raw["recipient"]["\u0000"] = "x"
    response = post_event(client, raw)
    assert response.status_code == 422
    assert comms_app.ledger.history("nul-key-0000001")[-1].status is Status.REJECTED
    assert "\u0000" not in chained_text(comms_app) and "\\u0000" not in chained_text(comms_app)


def test_a_lone_surrogate_is_a_422(client: TestClient, comms_app: App) -> None:
    body = json.dumps(event("decision-nl", "surrogate-000001")).replace(
        '"surrogate-000001"', '"\\ud800"'
    )
    response = post_event(client, body)
    assert response.status_code == 422
    raw = event("decision-nl", "surrogate-000002")
    body = json.dumps(raw).replace('"An Peeters"', '"An \\udfff"')
    response = post_event(client, body)
    assert response.status_code == 422
    assert response.json()["event_id"] == "surrogate-000002"
    assert comms_app.ledger.history("surrogate-000002")[-1].status is Status.REJECTED


@pytest.mark.parametrize(
    "url",
    [
        "/events/%00",
        "/events/abcdefgh%00",
    ],
)
def test_a_nul_in_a_producer_path_is_a_4xx(client: TestClient, url: str) -> None:
    response = client.get(url, headers=PRODUCER)
    assert 400 <= response.status_code < 500, response.text


@pytest.mark.parametrize(
    "url",
    [
        "/deliveries?dossier=%00",
        "/deliveries?event_id=%00",
        "/deliveries?communication_id=%00",
        "/deliveries?doc_type=%00",
        "/deliveries?subject_hmac=%00",
        "/deliveries/%00",
        "/deliveries/%00/documents/%00",
        "/compliance/events/%00",
        "/compliance?dossier=%00",
        "/deliveries?evidence=%00=%00",
        "/deliveries/views?viewer=%00",
        "/deliveries/views?document=%00",
        "/compliance/views?viewer=%00",
        "/deliveries/export?dossier=%00",
        "/deliveries?offset=99999999999999999999",
        "/deliveries?limit=99999999999999999999",
        "/deliveries/views?offset=99999999999999999999",
        "/compliance?page=99999999999999999999",
        "/compliance/views?page=99999999999999999999",
        "/deliveries?%00=1",
    ],
)
def test_a_nul_or_a_huge_number_in_a_compliance_filter_is_a_4xx(
    client: TestClient, url: str
) -> None:
    response = client.get(url, headers=COMPLIANCE)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert "\u0000" not in response.text


def test_a_query_that_is_not_utf8_is_read_with_replacement_characters(client: TestClient) -> None:
    response = client.get("/deliveries?dossier=%ED%A0%80", headers=COMPLIANCE)
    assert response.status_code == 200 and response.json()["total"] == 0


def test_a_nul_in_a_form_field_is_a_4xx(client: TestClient) -> None:
    response = client.post("/compliance/search", data={"dossier": "D-\u0000"}, headers=COMPLIANCE)
    assert response.status_code == 422 and response.json()["errors"][0]["field"] == "form.dossier"
