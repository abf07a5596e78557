"""Accepting events once, rejecting bad ones, recording state changes in order."""

from __future__ import annotations

import hashlib
import itertools

import pytest

from comms.errors import DuplicateEvent, FieldError
from comms.ledger import Ledger, UnknownEvent
from comms.models import ChannelName, Language, Status
from tests.ledger.helpers import COMPANY, PERSON, accept, snapshot_of


def test_accept_is_idempotent(ledger: Ledger) -> None:
    """Upstream redelivers the same event: the second time it is known, nothing is added."""
    first = accept(ledger, "evt-2026-0001")
    again = accept(ledger, "evt-2026-0001")

    assert first.new and first.seq == 1
    assert not again.new and again.seq is None
    assert [e.status for e in ledger.history("evt-2026-0001")] == [Status.ACCEPTED]


def test_same_id_with_other_content_is_a_conflict(ledger: Ledger) -> None:
    """Upstream reuses an event id for a different letter: refused, the first one stands."""
    accept(ledger, "evt-2026-0002")

    with pytest.raises(DuplicateEvent) as raised:
        accept(ledger, "evt-2026-0002", payload={"amount": "12.00"})

    assert PERSON not in str(raised.value)
    assert len(ledger.history("evt-2026-0002")) == 1
    assert ledger.event_snapshot("evt-2026-0002") == snapshot_of("evt-2026-0002")


def test_accepted_entry_carries_the_event_facts(ledger: Ledger) -> None:
    """The `accepted` row pins the content hash in the chain; the snapshot reads back intact."""
    accept(ledger, "evt-2026-0003", subject_id=COMPANY, doc_type="company_contribution_notice")

    (entry,) = ledger.history("evt-2026-0003")
    snapshot = ledger.event_snapshot("evt-2026-0003")
    assert snapshot is not None
    assert entry.evidence == {"content_sha256": hashlib.sha256(snapshot.encode()).hexdigest()}
    assert entry.doc_type == "company_contribution_notice"
    assert entry.language is Language.NL
    assert entry.dossier == "D-2026/001"
    assert entry.subject_hmac is not None and len(entry.subject_hmac) == 64
    assert entry.at.tzinfo is not None


def test_accept_refuses_inconsistent_input(ledger: Ledger) -> None:
    """A hash that is not the snapshot's, or a subject that is no Belgian number, is a bug."""
    snapshot = snapshot_of("evt-2026-0004")
    common = {
        "event_id": "evt-2026-0004",
        "doc_type": "decision",
        "snapshot_json": snapshot,
        "dossier": "D1",
        "language": Language.FR,
    }
    with pytest.raises(ValueError, match="content_sha256"):
        ledger.accept_event(**common, content_sha256="0" * 64, subject_id=PERSON)
    with pytest.raises(ValueError, match="subject_id") as raised:
        ledger.accept_event(
            **common,
            content_sha256=hashlib.sha256(snapshot.encode()).hexdigest(),
            subject_id="85073003399",
        )
    assert "85073003399" not in str(raised.value)
    assert ledger.history("evt-2026-0004") == []


def test_history_is_in_append_order(ledger: Ledger) -> None:
    """One event through the pipeline: every step is a new row, oldest first."""
    accept(ledger, "evt-2026-0005")
    steps = [Status.RENDERED, Status.ROUTED, Status.DISPATCHED, Status.DELIVERED, Status.READ]
    for status in steps:
        ledger.record(
            event_id="evt-2026-0005",
            status=status,
            communication_id=None if status is Status.RENDERED else "com-5-ebox",
            channel=ChannelName.EBOX,
            document_sha256="a" * 64,
            template_version="t1",
            renderer_version="weasyprint 62",
        )

    history = ledger.history("evt-2026-0005")
    assert [e.status for e in history] == [Status.ACCEPTED, *steps]
    assert [e.seq for e in history] == sorted(e.seq for e in history)
    assert all(e.prev_hash == before.row_hash for before, e in itertools.pairwise(history))
    assert {e.doc_type for e in history} == {"decision"}  # copied from the event
    assert ledger.latest_for("com-5-ebox") == history[-1]


def test_record_accepts_plain_strings_from_callers(ledger: Ledger) -> None:
    """The pipeline passes enum values as text; they come back as enums."""
    accept(ledger, "evt-2026-0006", language="fr")  # type: ignore[arg-type]
    entry = ledger.record(
        event_id="evt-2026-0006",
        status="routed",  # type: ignore[arg-type]
        communication_id="c6",
        channel="post",
    )
    assert entry.status is Status.ROUTED
    assert entry.channel is ChannelName.POST
    assert entry.language is Language.FR


def test_record_needs_an_accepted_event(ledger: Ledger) -> None:
    """A state change of an event never accepted, or an `accepted` by hand, is a caller's bug."""
    with pytest.raises(UnknownEvent):
        ledger.record(event_id="evt-never-seen", status=Status.ROUTED)
    accept(ledger, "evt-2026-0007")
    with pytest.raises(ValueError, match="accept_event"):
        ledger.record(event_id="evt-2026-0007", status=Status.ACCEPTED)
    with pytest.raises(TypeError):
        ledger.record(
            event_id="evt-2026-0007",
            status=Status.ROUTED,
            communication_id="c7",
            evidence={"n": 1},  # type: ignore[dict-item]
        )
    assert len(ledger.history("evt-2026-0007")) == 1


def test_reject_keeps_the_input_and_its_errors(ledger: Ledger) -> None:
    """An invalid event: the raw text and field errors are kept, and chained under its id."""
    raw = '{"event_id": "evt-2026-0008", "recipient": {"national_number": "85073003328"}}'
    errors = [FieldError("type", "Field required"), FieldError("payload", "Field required")]

    rejection_id = ledger.reject(
        source="file:events.jsonl:12", raw=raw, errors=errors, event_id="evt-2026-0008"
    )
    anonymous_id = ledger.reject(
        source="api", raw="not json", errors=[FieldError("(event)", "Invalid JSON")]
    )

    newest, older = ledger.rejections(limit=10)
    assert (newest.id, older.id) == (anonymous_id, rejection_id)
    assert older.raw == raw and older.source == "file:events.jsonl:12"
    assert [(e.field, e.message) for e in older.errors] == [(e.field, e.message) for e in errors]
    (entry,) = ledger.history("evt-2026-0008")
    assert entry.status is Status.REJECTED
    assert entry.evidence == {"rejection_id": str(rejection_id), "source": "file:events.jsonl:12"}
    assert entry.reason == "type: Field required; payload: Field required"
    assert ledger.verify().ok


def test_reject_of_an_accepted_id_leaves_its_state_alone(ledger: Ledger) -> None:
    """A broken redelivery of an accepted event is kept, but does not make the letter 'rejected'."""
    accept(ledger, "evt-2026-0009")
    ledger.reject(
        source="api",
        raw="{}",
        errors=[FieldError("type", "Field required")],
        event_id="evt-2026-0009",
    )

    assert [e.status for e in ledger.history("evt-2026-0009")] == [Status.ACCEPTED]
    assert ledger.rejections(limit=1)[0].event_id == "evt-2026-0009"


def test_a_rejected_id_can_be_accepted_once_fixed(ledger: Ledger) -> None:
    """Upstream fixes the event and sends it again under the same id."""
    ledger.reject(
        source="api",
        raw="{}",
        errors=[FieldError("type", "Field required")],
        event_id="evt-2026-0010",
    )
    assert accept(ledger, "evt-2026-0010").new
    assert [e.status for e in ledger.history("evt-2026-0010")] == [Status.REJECTED, Status.ACCEPTED]


def test_over_long_ids_are_refused_alike_on_both_databases(ledger: Ledger) -> None:
    """SQLite would store what PostgreSQL refuses; the ledger refuses it first, the same way."""
    with pytest.raises(ValueError, match="event_id is longer than 100"):
        accept(ledger, "e" * 101)
    accept(ledger, "evt-2026-0011")
    with pytest.raises(ValueError, match="communication_id is longer than 200"):
        ledger.record(event_id="evt-2026-0011", status=Status.ROUTED, communication_id="c" * 201)
    assert ledger.verify().checked == 1
