"""An `events` row re-pointed at another person is caught by verify, and exports nothing to them."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from comms.app import build_ledger
from comms.archive import Archive
from comms.ledger import Ledger
from comms.ledger.schema import events
from comms.ledger.subject import export_subject
from comms.models import ChannelName, Status
from comms.settings import load_settings
from tests.commands import comms
from tests.ledger.helpers import OTHER_PERSON, PERSON, accept, routed

PDF = b"%PDF-1.7 the letter of the first person"


def _sent(ledger: Ledger, archive: Archive, event_id: str, subject_id: str) -> str:
    accept(ledger, event_id, subject_id=subject_id)
    sha = archive.put(PDF + event_id.encode())
    ledger.record(event_id=event_id, status=Status.RENDERED, document_sha256=sha)
    routed(ledger, event_id, f"{event_id}-email", ChannelName.EMAIL)
    ledger.record(
        event_id=event_id,
        status=Status.DISPATCHED,
        communication_id=f"{event_id}-email",
        channel=ChannelName.EMAIL,
    )
    return sha


def _repoint(ledger: Ledger, event_id: str, subject_id: str, **more: object) -> None:
    """The attack of issue 13, finding 3: one UPDATE, no trigger in the way."""
    with ledger.engine.begin() as conn:
        conn.execute(
            sa.update(events)
            .where(events.c.event_id == event_id)
            .values(subject_hmac=ledger.subject_hmac(subject_id), **more)
        )


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "archive")


def test_a_repointed_event_breaks_verify(ledger: Ledger, archive: Archive) -> None:
    _sent(ledger, archive, "evt-mine-0001", PERSON)
    _sent(ledger, archive, "evt-theirs-0001", OTHER_PERSON)
    assert ledger.verify().ok
    _repoint(ledger, "evt-mine-0001", OTHER_PERSON)

    result = ledger.verify()
    assert not result.ok
    assert result.first_broken_event == "evt-mine-0001"
    assert "subject_hmac" in str(result.reason) and "accepted row 1" in str(result.reason)


@pytest.mark.parametrize(
    "column, value",
    [
        ("dossier", "D-2026/999"),
        ("doc_type", "tax_certificate"),
        ("language", "fr"),
        ("content_sha256", "f" * 64),
    ],
)
def test_every_fact_an_answer_is_built_from_is_bound(
    ledger: Ledger, archive: Archive, column: str, value: str
) -> None:
    _sent(ledger, archive, "evt-mine-0001", PERSON)
    with ledger.engine.begin() as conn:
        conn.execute(sa.update(events).values({column: value}))
    result = ledger.verify()
    assert not result.ok and result.first_broken_event == "evt-mine-0001"
    assert column in str(result.reason)


def test_an_event_row_without_its_chained_acceptance_breaks_verify(ledger: Ledger) -> None:
    accept(ledger, "evt-mine-0001")
    with ledger.engine.begin() as conn:
        row = dict(conn.execute(sa.select(events)).mappings().one())
        conn.execute(sa.insert(events).values(row | {"event_id": "evt-forged-0001"}))
    result = ledger.verify()
    assert not result.ok and result.first_broken_event == "evt-forged-0001"
    assert result.reason == "the event has no accepted row in the chain"


def test_a_repointed_event_is_never_handed_to_the_other_person(
    ledger: Ledger, archive: Archive, tmp_path: Path
) -> None:
    mine = _sent(ledger, archive, "evt-mine-0001", PERSON)
    _sent(ledger, archive, "evt-theirs-0001", OTHER_PERSON)
    _repoint(ledger, "evt-mine-0001", OTHER_PERSON)
    # Rows appended after the UPDATE still carry the chained subject, not the altered one.
    later = ledger.record(event_id="evt-mine-0001", status=Status.FAILED, reason="dead letter")
    assert later.subject_hmac == ledger.subject_hmac(PERSON)

    out = tmp_path / "their-request"
    export_subject(ledger, archive, OTHER_PERSON, out, viewer="alice")
    manifest = json.loads((out / "manifest.json").read_text())
    assert [e["event_id"] for e in manifest["events"]] == ["evt-theirs-0001"]
    handed = {hashlib.sha256(p.read_bytes()).hexdigest() for p in (out / "documents").iterdir()}
    assert mine not in handed and len(handed) == 1
    assert not (out / "events" / "evt-mine-0001.json").exists()

    own = tmp_path / "own-request"
    export_subject(ledger, archive, PERSON, own, viewer="alice")
    back = json.loads((own / "manifest.json").read_text())
    assert [e["event_id"] for e in back["events"]] == ["evt-mine-0001"]
    assert back["events"][0]["documents"][0]["sha256"] == mine


def test_verify_with_checkpoints_names_the_repointed_event(tmp_path: Path) -> None:
    """The checkpoints pin the chain; the chain pins the event row, so the command fails."""
    settings = load_settings(data_dir=tmp_path / "var")
    with build_ledger(settings) as led:
        accept(led, "evt-mine-0001")
        accept(led, "evt-theirs-0001", subject_id=OTHER_PERSON)
    kept = tmp_path / "checkpoints.jsonl"
    assert comms(tmp_path, "ledger", "checkpoint", "--append", str(kept)).returncode == 0
    with build_ledger(settings) as led:
        _repoint(led, "evt-mine-0001", OTHER_PERSON)

    for args in ((), ("--checkpoints", str(kept))):
        caught = comms(tmp_path, "ledger", "verify", *args)
        assert caught.returncode == 1
        said = " ".join(caught.stderr.split())  # as printed, wrapped to the terminal's width
        assert said == (
            "Ledger BROKEN at event evt-mine-0001: "
            "the event row disagrees with accepted row 1 on subject_hmac"
        )
