"""Purge at the end of retention: content goes, tombstones stay, and the chain still verifies."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from comms.archive import Archive
from comms.errors import FieldError
from comms.ledger import Ledger, RetentionPolicy
from comms.ledger.audit import audit_archive
from comms.ledger.documents import DocumentNotFound, DocumentPurged, open_document
from comms.models import ChannelName, Status
from tests.ledger.helpers import Clock, accept, routed

POLICY = RetentionPolicy(
    years_by_type={"decision": 10, "contribution_notice": 7}, default_years=10, rejected_years=1
)
TODAY = date(2026, 3, 2)  # the Clock fixture's day


def render(ledger: Ledger, archive: Archive, event_id: str, pdf: bytes) -> tuple[str, str]:
    """What the pipeline leaves: the PDF and its wrappings archived, rendered, then dispatched."""
    sha = archive.put(pdf)
    wrappings = archive.put(json.dumps({"email_text": f"Dear member ({event_id})"}).encode())
    ledger.record(
        event_id=event_id,
        status=Status.RENDERED,
        document_sha256=sha,
        template_version="t1",
        renderer_version="r1",
        evidence={"wrappings_sha256": wrappings, "pages": "1"},
    )
    routed(ledger, event_id, f"c-{event_id}", ChannelName.POST)
    ledger.record(
        event_id=event_id,
        status=Status.DISPATCHED,
        communication_id=f"c-{event_id}",
        channel=ChannelName.POST,
        document_sha256=sha,
        evidence={"print_batch": "B-1"},
    )
    return sha, wrappings


@pytest.fixture
def archive(tmp_path: Path) -> Archive:
    return Archive(tmp_path / "archive")


def _at(clock: Clock, year: int, month: int = 5) -> None:
    clock.now = datetime(year, month, 1, 9, 0, tzinfo=UTC)


def _world(ledger: Ledger, archive: Archive, clock: Clock) -> dict[str, tuple[str, str]]:
    _at(clock, 2014)
    accept(ledger, "evt-old-decision", doc_type="decision")
    accept(ledger, "evt-old-notice", doc_type="contribution_notice")
    docs = {
        "old-decision": render(ledger, archive, "evt-old-decision", b"%PDF-1.7 old decision"),
        "old-notice": render(ledger, archive, "evt-old-notice", b"%PDF-1.7 same notice"),
    }
    ledger.reject(
        source="api",
        raw='{"recipient": {"national_number": "85073003328"}}',
        errors=[FieldError("type", "Field required")],
    )
    _at(clock, 2019, 6)
    accept(ledger, "evt-mid-notice", doc_type="contribution_notice")
    # Identical bytes (content-addressed): the file must outlive the older event's retention.
    docs["mid-notice"] = render(ledger, archive, "evt-mid-notice", b"%PDF-1.7 same notice")
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    return docs


def test_purge_removes_content_past_retention_and_verify_stays_green(
    ledger: Ledger, archive: Archive, clock: Clock
) -> None:
    """Decision of 2014 (10 years) and notice of 2014 (7 years) go; the 2019 notice stays."""
    docs = _world(ledger, archive, clock)
    before_rows = ledger.search(limit=1000)
    assert ledger.verify().ok

    report = ledger.purge(TODAY, POLICY, archive, actor="cli:ops")

    assert report.events == 2 and report.rejections == 1
    old_pdf, old_wrap = docs["old-decision"]
    shared_pdf, notice_wrap = docs["old-notice"]
    assert sorted(report.documents) == sorted([old_pdf, old_wrap, notice_wrap])
    assert report.kept_shared == [shared_pdf]
    for sha in (old_pdf, old_wrap, notice_wrap):
        assert not archive.exists(sha)
    assert archive.exists(shared_pdf) and archive.exists(docs["mid-notice"][1])
    assert ledger.event_snapshot("evt-old-decision") is None
    assert ledger.event_snapshot("evt-mid-notice") is not None
    assert ledger.rejections()[0].raw is None

    # The log itself is untouched, and both chains verify.
    assert ledger.search(limit=1000) == before_rows
    result = ledger.verify()
    assert result.ok and result.tombstones_checked == len(report.tombstones) == 6

    # Each tombstone names what went, by hash, and the rule applied.
    stones = {(t.event_id, t.kind): t for t in ledger.tombstones(event_ids=["evt-old-decision"])}
    assert set(stones) == {
        ("evt-old-decision", "snapshot"),
        ("evt-old-decision", "document"),
        ("evt-old-decision", "wrappings"),
    }
    doc = stones[("evt-old-decision", "document")]
    assert doc.content_sha256 == old_pdf and doc.actor == "cli:ops"
    assert doc.retained_until == date(2025, 1, 1) and "decision: 10 years" in doc.rule
    info = ledger.event("evt-old-decision")
    assert info is not None and info.purged_at == clock.now

    # The archive audit accounts for every hash the log names.
    audit = audit_archive(ledger, archive)
    assert audit.ok and audit.purged == 3 and audit.intact == 2

    # A second run finds nothing more to do.
    again = ledger.purge(TODAY, POLICY, archive, actor="cli:ops")
    assert again.events == 0 and again.tombstones == [] and again.rejections == 0


def test_a_dry_run_changes_nothing(ledger: Ledger, archive: Archive, clock: Clock) -> None:
    docs = _world(ledger, archive, clock)
    report = ledger.purge(TODAY, POLICY, archive, actor="cli:ops", dry_run=True)
    assert report.events == 2 and len(report.documents) == 3 and report.tombstones == []
    assert ledger.event_snapshot("evt-old-decision") is not None
    assert all(archive.exists(sha) for pair in docs.values() for sha in pair)
    assert ledger.verify().tombstones_checked == 0


def test_a_purge_cannot_look_ahead(ledger: Ledger, archive: Archive) -> None:
    with pytest.raises(ValueError, match="later than today"):
        ledger.purge(date(2030, 1, 1), POLICY, archive, actor="cli:ops")


def test_an_interrupted_purge_is_finished_by_the_next(
    ledger: Ledger, archive: Archive, clock: Clock
) -> None:
    """Tombstones are committed before files are deleted; a file left behind goes next time."""
    _world(ledger, archive, clock)
    ledger.purge(TODAY, POLICY, archive, actor="cli:ops")
    left = archive.put(b"%PDF-1.7 old decision")  # as if the unlink had failed
    again = ledger.purge(TODAY, POLICY, archive, actor="cli:ops")
    assert not archive.exists(left) and again.tombstones == []


def test_tampered_tombstones_are_found(ledger: Ledger, archive: Archive, clock: Clock) -> None:
    """Rewriting the rule a purge cited breaks the tombstones' own chain, at that tombstone."""
    _world(ledger, archive, clock)
    ledger.purge(TODAY, POLICY, archive, actor="cli:ops")
    with ledger.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER tombstones_append_only ON tombstones")
        else:
            conn.exec_driver_sql("DROP TRIGGER tombstones_no_update")
        conn.execute(sa.text("UPDATE tombstones SET rule = 'decision: 1 year' WHERE seq = 2"))
    result = ledger.verify()
    assert not result.ok and result.first_broken_tombstone == 2
    assert result.first_broken_seq is None and "tombstone 2" in (result.reason or "")


def test_a_document_gone_without_tombstone_is_a_finding(
    ledger: Ledger, archive: Archive, clock: Clock
) -> None:
    docs = _world(ledger, archive, clock)
    gone, altered = docs["mid-notice"]
    archive.path(gone).unlink()
    path = archive.path(altered)
    path.chmod(0o640)
    path.write_bytes(b"{}")
    audit = audit_archive(ledger, archive)
    assert audit.missing == [gone] and audit.corrupted == [altered] and not audit.ok


def test_opening_a_purged_document_shows_its_tombstone_and_records_nothing(
    ledger: Ledger, archive: Archive, clock: Clock
) -> None:
    docs = _world(ledger, archive, clock)
    pdf, _ = docs["old-decision"]
    opened = open_document(
        ledger, archive, event_id="evt-old-decision", sha256=pdf, viewer="alice", purpose="test"
    )
    assert opened.data.startswith(b"%PDF") and opened.media_type == "application/pdf"
    ledger.purge(TODAY, POLICY, archive, actor="cli:ops")
    with pytest.raises(DocumentPurged) as gone:
        open_document(
            ledger, archive, event_id="evt-old-decision", sha256=pdf, viewer="alice", purpose="t"
        )
    assert gone.value.tombstone.rule.startswith("decision: 10 years")
    with pytest.raises(DocumentNotFound):  # a hash of another event is not this event's
        open_document(
            ledger,
            archive,
            event_id="evt-old-decision",
            sha256=docs["mid-notice"][0],
            viewer="alice",
            purpose="t",
        )
    assert len(ledger.views()) == 1  # only the opening that showed something


def test_two_purges_at_once_write_each_tombstone_once(
    ledger: Ledger, archive: Archive, clock: Clock
) -> None:
    """Two operators (or cron and an operator) purge together: one chain, nothing twice."""
    from concurrent.futures import ThreadPoolExecutor

    _world(ledger, archive, clock)
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(lambda n: ledger.purge(TODAY, POLICY, archive, actor=f"ops-{n}"), range(2))
        )
    assert sum(len(r.tombstones) for r in runs) == 6
    result = ledger.verify()
    assert result.ok and result.tombstones_checked == 6
