"""Finding entries: by communication, evidence, person, dossier, time; stuck events; snapshots."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from comms.ledger import Filters, Ledger, SnapshotMismatch
from comms.models import ChannelName, Status
from tests.ledger.helpers import COMPANY, OTHER_PERSON, PERSON, Clock, accept, routed, snapshot_of


def test_latest_and_statuses_per_communication(ledger: Ledger) -> None:
    """eBox fails, post takes over: each communication has its own latest state."""
    accept(ledger, "evt-q-0001")
    ledger.record(
        event_id="evt-q-0001",
        status=Status.ROUTED,
        communication_id="c-ebox",
        channel=ChannelName.EBOX,
    )
    ledger.record(
        event_id="evt-q-0001",
        status=Status.FAILED,
        communication_id="c-ebox",
        channel=ChannelName.EBOX,
    )
    ledger.record(
        event_id="evt-q-0001",
        status=Status.SUPERSEDED,
        communication_id="c-ebox",
        channel=ChannelName.EBOX,
    )
    routed(ledger, "evt-q-0001", "c-post", ChannelName.POST)
    ledger.record(
        event_id="evt-q-0001",
        status=Status.DISPATCHED,
        communication_id="c-post",
        channel=ChannelName.POST,
    )

    assert ledger.statuses("evt-q-0001") == {
        None: Status.ACCEPTED,
        "c-ebox": Status.SUPERSEDED,
        "c-post": Status.DISPATCHED,
    }
    latest = ledger.latest_for("c-ebox")
    assert latest is not None and latest.status is Status.SUPERSEDED
    assert ledger.latest_for("c-unknown") is None
    assert ledger.statuses("evt-unknown") == {}


def test_find_by_evidence_returns_the_latest_match(ledger: Ledger) -> None:
    """An eBox status callback names only its message id; we find the communication from it."""
    accept(ledger, "evt-q-0002")
    routed(ledger, "evt-q-0002", "c-2", ChannelName.EBOX)
    ledger.record(
        event_id="evt-q-0002",
        status=Status.DISPATCHED,
        communication_id="c-2",
        channel=ChannelName.EBOX,
        evidence={"ebox_message_id": "msg-123"},
    )
    delivered = ledger.record(
        event_id="evt-q-0002",
        status=Status.DELIVERED,
        communication_id="c-2",
        channel=ChannelName.EBOX,
        evidence={"ebox_message_id": "msg-123", "smtp_reply": "x" * 5000},
    )

    assert ledger.find_by_evidence("ebox_message_id", "msg-123") == delivered
    assert ledger.find_by_evidence("smtp_reply", "x" * 5000) == delivered  # long values fit too
    assert ledger.find_by_evidence("ebox_message_id", "msg-999") is None
    assert ledger.find_by_evidence("other_key", "msg-123") is None


def test_search_by_person_dossier_and_filters(ledger: Ledger, clock: Clock) -> None:
    """Staff search by the clear national number (in any spelling), a dossier, a type, a time."""
    accept(ledger, "evt-q-0003", subject_id=PERSON, dossier="D-1", doc_type="decision")
    clock.advance(3600)
    accept(
        ledger, "evt-q-0004", subject_id=OTHER_PERSON, dossier="D-2", doc_type="payment_reminder"
    )
    accept(
        ledger,
        "evt-q-0005",
        subject_id=COMPANY,
        dossier="D-3",
        doc_type="company_contribution_notice",
    )
    ledger.record(
        event_id="evt-q-0004",
        status=Status.ROUTED,
        communication_id="c-4",
        channel=ChannelName.EMAIL,
    )

    def ids(filters: Filters | None = None, *, limit: int = 100, offset: int = 0) -> list[str]:
        return [e.event_id for e in ledger.search(filters, limit=limit, offset=offset)]

    def of(number: str) -> str:
        return ledger.subject_hmac(number)  # the clear number is hashed on the way in

    assert ids(Filters(subject_hmac=of(PERSON))) == ["evt-q-0003"]
    assert ids(Filters(subject_hmac=of("85.07.30-033.28"))) == ["evt-q-0003"]
    assert ids(Filters(subject_hmac=of("0406.798.006"))) == ["evt-q-0005"]
    assert ids(Filters(dossier="D-2")) == ["evt-q-0004", "evt-q-0004"]  # newest first
    assert ids(Filters(doc_type="decision")) == ["evt-q-0003"]
    assert ids(Filters(channel=ChannelName.EMAIL)) == ["evt-q-0004"]
    assert ids(Filters(subject_hmac=of(OTHER_PERSON), status=Status.ACCEPTED)) == ["evt-q-0004"]
    start = clock.now
    assert ids(Filters(since=start)) == ["evt-q-0004", "evt-q-0005", "evt-q-0004"]
    assert ids(Filters(until=start)) == ["evt-q-0003"]
    assert ids(limit=2) == ["evt-q-0004", "evt-q-0005"]
    assert ids(limit=2, offset=2) == ["evt-q-0004", "evt-q-0003"]
    assert ids(Filters(subject_hmac=of("85073003328"), dossier="D-2")) == []
    with pytest.raises(ValueError, match="limit"):
        ledger.search(limit=0)
    with pytest.raises(ValueError, match="limit"):
        ledger.search(limit=10_000)


def test_stuck_lists_events_left_in_a_non_final_state(ledger: Ledger, clock: Clock) -> None:
    """The sweeper asks what has not moved for an hour and is not done."""
    accept(ledger, "evt-q-0006")  # accepted, never rendered
    accept(ledger, "evt-q-0007")
    routed(ledger, "evt-q-0007", "c-7")
    ledger.record(event_id="evt-q-0007", status=Status.DELIVERED, communication_id="c-7")
    accept(ledger, "evt-q-0008")
    routed(ledger, "evt-q-0008", "c-8")
    ledger.record(event_id="evt-q-0008", status=Status.DISPATCHED, communication_id="c-8")
    clock.advance(2 * 3600)
    accept(ledger, "evt-q-0009")  # recent: not stuck yet

    stuck = ledger.stuck(older_than_s=3600)
    assert [(e.event_id, e.status) for e in stuck] == [
        ("evt-q-0006", Status.ACCEPTED),
        ("evt-q-0008", Status.DISPATCHED),
    ]
    clock.advance(3600)
    ledger.record(event_id="evt-q-0006", status=Status.REFUSED, reason="no French template")
    assert [e.event_id for e in ledger.stuck(older_than_s=1800)] == ["evt-q-0008", "evt-q-0009"]


def test_snapshot_reads_back_and_detects_tampering(ledger: Ledger) -> None:
    """The stored event is the one accepted; a swapped snapshot does not pass for it."""
    accept(ledger, "evt-q-0010")
    accept(ledger, "evt-q-0011", subject_id=OTHER_PERSON)
    assert ledger.event_snapshot("evt-q-0010") == snapshot_of("evt-q-0010")
    assert ledger.event_snapshot("evt-unknown") is None

    with ledger.engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE events SET snapshot = (SELECT snapshot FROM events WHERE event_id = :b)"
                " WHERE event_id = :a"
            ),
            {"a": "evt-q-0010", "b": "evt-q-0011"},
        )
    with pytest.raises(SnapshotMismatch) as raised:
        ledger.event_snapshot("evt-q-0010")
    assert OTHER_PERSON not in str(raised.value)

    with ledger.engine.begin() as conn:  # a purge (a later issue) leaves the row, not the content
        conn.execute(sa.text("UPDATE events SET snapshot = NULL WHERE event_id = 'evt-q-0011'"))
    assert ledger.event_snapshot("evt-q-0011") is None
    assert ledger.verify().ok
