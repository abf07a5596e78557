"""A producer reads the status of its own events only; the log says which producer sent each."""

from __future__ import annotations

from fastapi.testclient import TestClient

from comms.app import App
from tests.api.conftest import OTHER_PRODUCER, PRODUCER, post_event
from tests.service.conftest import event


def test_a_producer_reads_its_own_events_and_another_gets_404(
    client: TestClient, comms_app: App
) -> None:
    assert post_event(client, event("tax-certificate-nl", "scoped-event-01")).status_code == 202
    bad = event("decision-nl", "scoped-reject-01")
    bad["payload"]["reasons_in_fact"] = []
    assert post_event(client, bad).status_code == 422

    for event_id in ("scoped-event-01", "scoped-reject-01"):
        assert client.get(f"/events/{event_id}", headers=PRODUCER).status_code == 200
        other = client.get(f"/events/{event_id}", headers=OTHER_PRODUCER)
        assert other.status_code == 404
        assert other.json() == client.get("/events/never-sent-0001", headers=OTHER_PRODUCER).json()

    # The chained acceptance names the producer (a name from the fund's settings).
    accepted = comms_app.ledger.history("scoped-event-01")[0]
    assert accepted.evidence["source"] == "http:upstream"


def test_another_producer_resending_the_same_event_gets_no_status_url_of_it(
    client: TestClient,
) -> None:
    raw = event("tax-certificate-nl", "scoped-event-02")
    assert post_event(client, raw).status_code == 202
    again = post_event(client, raw, who=OTHER_PRODUCER)
    assert again.status_code == 409
