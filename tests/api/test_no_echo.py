"""Only what the fund chose enters an answer or the chained log: schema paths, codes, hashes."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from comms.app import App
from comms.ledger import Filters
from comms.models import Status
from tests.api.conftest import chained_text, post_event
from tests.service.conftest import event


def test_an_unknown_field_named_after_a_person_is_neither_answered_nor_chained(
    client: TestClient, comms_app: App
) -> None:
    raw = event("decision-nl", "echo-field-00001")
    raw["recipient"]["85073003328"] = "x"
    raw["payload"]["Jan Janssens"] = "x"
    response = post_event(client, raw)
    assert response.status_code == 422
    fields = {e["field"] for e in response.json()["errors"]}
    assert fields == {"recipient.(unknown field)", "payload.(unknown field)"}
    assert comms_app.ledger.history("echo-field-00001")[-1].status is Status.REJECTED
    for text in (response.text, chained_text(comms_app)):
        assert "85073003328" not in text and "Janssens" not in text
    # The input itself is kept, sealed, for staff who may open it.
    assert "Jan Janssens" in (comms_app.ledger.rejections()[0].raw or "")


def test_an_invalid_event_id_holding_a_name_is_neither_answered_nor_chained(
    client: TestClient, comms_app: App
) -> None:
    raw = event("decision-nl", "Jan Janssens 85073003328")
    response = post_event(client, raw)
    assert response.status_code == 422
    assert response.json()["event_id"] is None
    assert "event_id" in {e["field"] for e in response.json()["errors"]}
    kept = comms_app.ledger.rejections()
    assert len(kept) == 1 and kept[0].event_id is None
    for text in (response.text, chained_text(comms_app)):
        assert "Janssens" not in text and "85073003328" not in text


def test_a_rejected_decision_keeps_its_type_for_searches(
    client: TestClient, comms_app: App
) -> None:
    raw = event("decision-fr", "typed-reject-001")
    raw["payload"]["reasons_in_fact"] = []
    assert post_event(client, raw).status_code == 422
    found = comms_app.ledger.search(Filters(doc_type="decision", status=Status.REJECTED))
    assert [e.event_id for e in found] == ["typed-reject-001"]


def test_a_second_event_with_the_same_id_and_other_content_leaves_hashes_in_the_log(
    client: TestClient, comms_app: App
) -> None:
    first = event("tax-certificate-nl", "conflict-trace-1")
    assert post_event(client, first).status_code == 202
    other = event("tax-certificate-nl", "conflict-trace-1", dossier="D-999999")
    other["recipient"]["name"] = "Jan Janssens"
    response = post_event(client, other)
    assert response.status_code == 409
    kept = comms_app.ledger.rejections()
    assert [k.event_id for k in kept] == ["conflict-trace-1"]
    trace = json.dumps([e.as_dict() for e in kept[0].errors])
    accepted = comms_app.ledger.event("conflict-trace-1")
    assert accepted is not None and accepted.content_sha256 in trace
    assert "D-999999" not in trace and "Janssens" not in chained_text(comms_app)
    assert kept[0].raw is None  # hashes, not content
    # The accepted event goes on as it was.
    assert comms_app.ledger.history("conflict-trace-1")[-1].status is Status.ACCEPTED
