"""`POST /events` takes JSON only: text, forms and multipart bodies are 415, never parsed as JSON."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from comms.app import App
from tests.api.conftest import PRODUCER
from tests.service.conftest import event


@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
    ],
)
def test_a_body_that_is_not_json_is_415_and_not_recorded(
    client: TestClient, comms_app: App, content_type: str
) -> None:
    body = json.dumps(event("tax-certificate-nl", "media-type-00001"))
    headers = {**PRODUCER, "Content-Type": content_type}
    response = client.post("/events", content=body, headers=headers)
    assert response.status_code == 415
    assert comms_app.ledger.history("media-type-00001") == []


def test_json_with_a_charset_or_a_json_suffix_is_accepted(client: TestClient) -> None:
    for n, content_type in enumerate(
        ["application/json; charset=utf-8", "application/vnd.comms+json", "Application/JSON"]
    ):
        body = json.dumps(event("tax-certificate-nl", f"media-type-1000{n}"))
        headers = {**PRODUCER, "Content-Type": content_type}
        assert client.post("/events", content=body, headers=headers).status_code == 202
