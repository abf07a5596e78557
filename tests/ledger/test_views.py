"""Every opening of a document is recorded (who, when, how), findable, and cannot be undone."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from comms.ledger import Ledger, ViewFilters
from tests.ledger.helpers import Clock, accept

DOC_A, DOC_B = "a" * 64, "b" * 64


def test_openings_are_found_by_document_event_viewer_and_time(ledger: Ledger, clock: Clock) -> None:
    accept(ledger, "evt-view-0001")
    first = ledger.record_view(
        document_sha256=DOC_A, event_id="evt-view-0001", viewer="alice", purpose="compliance page"
    )
    clock.advance(3600)
    ledger.record_view(document_sha256=DOC_B, event_id="evt-view-0001", viewer="bob")
    clock.advance(3600)
    ledger.record_view(document_sha256=DOC_A, event_id=None, viewer="bob", purpose="api")

    assert first.viewer == "alice" and first.viewed_at == clock.now.replace(hour=9)
    assert [v.viewer for v in ledger.views()] == ["bob", "bob", "alice"]  # newest first
    assert [v.viewer for v in ledger.views(ViewFilters(document_sha256=DOC_A))] == ["bob", "alice"]
    assert len(ledger.views(ViewFilters(event_id="evt-view-0001"))) == 2
    assert [v.document_sha256 for v in ledger.views(ViewFilters(viewer="bob"))] == [DOC_A, DOC_B]
    window = ViewFilters(since=clock.now.replace(hour=10), until=clock.now.replace(hour=11))
    assert [v.document_sha256 for v in ledger.views(window)] == [DOC_B]


def test_openings_cannot_be_edited_or_deleted(ledger: Ledger) -> None:
    """The record of who looked is append-only in the database, like the log itself."""
    ledger.record_view(document_sha256=DOC_A, event_id=None, viewer="alice")
    for statement in (
        "UPDATE document_views SET viewer = 'nobody'",
        "DELETE FROM document_views",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert [v.viewer for v in ledger.views()] == ["alice"]
