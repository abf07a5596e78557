"""GET /deliveries: the compliance role searches, exports, reads one history and its documents."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from comms.api import create_api
from comms.ledger import Filters
from comms.ledger.export import read_entries
from tests.compliance.conftest import (
    OFFICER,
    OFFICER_TOKEN,
    OTHER_PERSON,
    PERSON,
    PRODUCER_TOKEN,
    World,
)

AUTH = {"Authorization": f"Bearer {OFFICER_TOKEN}"}


@pytest.fixture(scope="module")
def client(world: World) -> Iterator[TestClient]:
    with TestClient(create_api(world.app)) as c:
        yield c


def test_only_the_compliance_role_reads_the_log(client: TestClient) -> None:
    assert client.get("/deliveries").status_code == 401
    producer = {"Authorization": f"Bearer {PRODUCER_TOKEN}"}
    assert client.get("/deliveries", headers=producer).status_code == 403
    assert client.get("/deliveries/export", headers=producer).status_code == 403
    assert client.get("/deliveries", headers=AUTH).status_code == 200


def test_the_cli_filters_work_over_http(client: TestClient, world: World) -> None:
    """Type, channel, state, dossier, evidence; the person by header or by HMAC, never in the URL."""

    def total(headers: dict[str, str] | None = None, **params: str) -> int:
        answer = client.get("/deliveries", params=params, headers={**AUTH, **(headers or {})})
        assert answer.status_code == 200, answer.text
        return int(answer.json()["total"])

    everything = total()
    assert everything == world.app.ledger.count(Filters())
    decisions = client.get("/deliveries", params={"doc_type": "decision", "limit": 2}, headers=AUTH)
    body = decisions.json()
    assert body["total"] > 2 and len(body["items"]) == 2
    assert {i["doc_type"] for i in body["items"]} == {"decision"}
    assert total(channel="post", status="returned") == 1
    assert total(status="bounced", dossier="D-000101") == 1
    person = total({"X-Comms-Subject": "85.07.30-033.28"})
    assert person == total(subject_hmac=world.app.ledger.subject_hmac(PERSON)) > 0
    assert person + total({"X-Comms-Subject": OTHER_PERSON}) < everything
    ebox_id = next(
        e.evidence["ebox_message_id"]
        for e in world.app.ledger.search(limit=1000)
        if "ebox_message_id" in e.evidence
    )
    assert total(evidence=f"ebox_message_id={ebox_id}") >= 1
    assert total(since="2000-01-01", until="2000-01-02") == 0


def test_bad_filters_name_the_field_not_the_value(client: TestClient) -> None:
    answer = client.get("/deliveries", headers={**AUTH, "X-Comms-Subject": "84022711080"})
    assert answer.status_code == 422 and "84022711080" not in answer.text
    assert client.get("/deliveries", params={"since": "yesterday"}, headers=AUTH).status_code == 422
    assert client.get("/deliveries", params={"channel": "fax"}, headers=AUTH).status_code == 422
    views = client.get("/deliveries/views", params={"until": "tomorrow"}, headers=AUTH)
    assert views.status_code == 422 and "until" in views.text and "tomorrow" not in views.text
    leaked = client.get("/deliveries", params={"subject": PERSON}, headers=AUTH)
    assert leaked.status_code == 422 and "X-Comms-Subject" in leaked.text
    assert PERSON not in leaked.text


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_the_streamed_export_reads_back_to_the_log(
    client: TestClient, world: World, fmt: str
) -> None:
    answer = client.get("/deliveries/export", params={"format": fmt}, headers=AUTH)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith(
        "text/csv" if fmt == "csv" else "application/x-ndjson"
    )
    back = read_entries(io.StringIO(answer.text), fmt)  # type: ignore[arg-type]
    assert back == sorted(world.app.ledger.search(limit=1000), key=lambda e: e.seq)
    assert int(answer.headers["x-total-rows"]) == len(back)


def test_one_history_with_its_documents_and_who_opened_them(
    client: TestClient, world: World
) -> None:
    story = client.get("/deliveries/sample-decision-fr", headers=AUTH).json()
    assert [e["status"] for e in story["entries"]][:2] == ["accepted", "rendered"]
    assert story["event"]["doc_type"] == "decision" and story["event"]["purged_at"] is None
    pdf_sha = next(d["sha256"] for d in story["documents"] if d["kind"] == "document")
    assert pdf_sha == story["entries"][1]["document_sha256"]

    pdf = client.get(f"/deliveries/sample-decision-fr/documents/{pdf_sha}", headers=AUTH)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert hashlib.sha256(pdf.content).hexdigest() == pdf_sha
    assert pdf.headers["cache-control"] == "no-store"

    # The opening is recorded, and that record is itself searchable.
    opened = client.get("/deliveries/views", params={"document": pdf_sha}, headers=AUTH).json()
    assert [(v["viewer"], v["purpose"]) for v in opened["items"]][:1] == [(OFFICER, "api")]
    again = client.get("/deliveries/sample-decision-fr", headers=AUTH).json()
    assert any(v["document_sha256"] == pdf_sha for v in again["views"])
    by_me = client.get("/deliveries/views", params={"viewer": OFFICER}, headers=AUTH).json()
    assert by_me["items"]


def test_documents_of_other_events_are_not_served(client: TestClient, world: World) -> None:
    """A hash from another event is refused: links are per event, and guesses get nothing."""
    other = world.app.ledger.documents_of("sample-decision-nl")
    sha = next(iter(other))
    answer = client.get(f"/deliveries/sample-decision-fr/documents/{sha}", headers=AUTH)
    assert answer.status_code == 404
    assert client.get("/deliveries/no-such-event-0001", headers=AUTH).status_code == 404


def test_pages_send_strangers_to_sign_in_and_refuse_other_roles(client: TestClient) -> None:
    client.cookies.clear()
    first = client.get("/compliance/events/sample-decision-nl", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/login?next=/compliance/events/sample-decision-nl"
    client.post("/login", data={"token": PRODUCER_TOKEN})
    assert client.get("/compliance").status_code == 403
    client.post("/login", data={"token": OFFICER_TOKEN})
    page = client.get("/compliance", params={"doc_type": "decision"})
    assert page.status_code == 200 and "<script" not in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]
    wrong = client.get("/compliance", params={"since": "last tuesday"})
    assert wrong.status_code == 422 and 'role="alert"' in wrong.text and "<form" in wrong.text
    client.cookies.clear()


def test_a_bad_number_in_the_form_is_refused_without_echo(client: TestClient) -> None:
    signed_in = client.post("/login", data={"token": OFFICER_TOKEN, "next": "/compliance"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', signed_in.text)
    assert csrf is not None
    answer = client.post(
        "/compliance/search", data={"subject": "84022711080", "csrf_token": csrf.group(1)}
    )
    assert answer.status_code == 422 and "not a valid national" in answer.text
    assert "84022711080" not in answer.text
    client.cookies.clear()
