"""The hash chain: intact after normal use, and any edit or deletion named by its first seq."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from comms.ledger import Ledger
from comms.ledger.chain import row_hash
from comms.ledger.schema import entries
from comms.models import ChannelName, Status
from tests.ledger.helpers import accept, drop_append_only_guard


def _fill(ledger: Ledger, events: int = 3) -> int:
    """A few events with a few steps each, interleaved like a busy worker pool."""
    for n in range(events):
        accept(ledger, f"evt-chain-{n:04d}")
    for status in (Status.RENDERED, Status.ROUTED, Status.DISPATCHED):
        for n in range(events):
            ledger.record(
                event_id=f"evt-chain-{n:04d}",
                status=status,
                communication_id=None if status is Status.RENDERED else f"com-{n}",
                channel=ChannelName.EMAIL,
                reason="consent given",
                evidence={"smtp_reply": "250 2.0.0 queued"},
            )
    return events * 4


def test_empty_and_filled_chains_verify(ledger: Ledger) -> None:
    """A fresh ledger, then one in use: both recompute to the head."""
    assert ledger.verify().ok and ledger.verify().checked == 0
    rows = _fill(ledger)
    result = ledger.verify()
    assert result.ok and result.checked == rows == result.count == result.head_seq
    assert result.first_broken_seq is None


def test_the_database_refuses_edits_and_deletions(ledger: Ledger) -> None:
    """Append-only is enforced by triggers too, for anyone who holds the app's credentials."""
    _fill(ledger, events=1)
    for statement in (
        "UPDATE entries SET reason = 'x' WHERE seq = 2",
        "DELETE FROM entries WHERE seq = 2",
    ):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"), ledger.engine.begin() as conn:
            conn.exec_driver_sql(statement)
    assert ledger.verify().ok


def test_an_edited_row_is_named(ledger: Ledger) -> None:
    """Someone rewrites a row's reason by SQL: verify names that very row."""
    _fill(ledger)
    drop_append_only_guard(ledger.engine)
    with ledger.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE entries SET status = 'delivered' WHERE seq = 5")

    result = ledger.verify()
    assert not result.ok
    assert result.first_broken_seq == 5
    assert result.checked == 4
    assert result.reason == "row_hash does not match the row's content"


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(ledger: Ledger) -> None:
    """A smarter forger also recomputes row_hash: the next row's prev_hash gives them away."""
    _fill(ledger)
    drop_append_only_guard(ledger.engine)
    with ledger.engine.begin() as conn:
        row = dict(conn.execute(sa.select(entries).where(entries.c.seq == 5)).mappings().one())
        row["reason"] = "recipient asked for paper"
        conn.execute(
            sa.text("UPDATE entries SET reason = :reason, row_hash = :h WHERE seq = 5"),
            {"reason": row["reason"], "h": row_hash(row)},
        )

    result = ledger.verify()
    assert (result.ok, result.first_broken_seq) == (False, 6)
    assert result.reason == "prev_hash does not match the previous row's hash"


@pytest.mark.parametrize("seq", [1, 7])
def test_a_deleted_row_is_named(ledger: Ledger, seq: int) -> None:
    """A row removed from the start or the middle leaves a gap at its seq."""
    _fill(ledger)
    drop_append_only_guard(ledger.engine)
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM entries WHERE seq = :seq"), {"seq": seq})

    result = ledger.verify()
    assert (result.ok, result.first_broken_seq, result.checked) == (False, seq, seq - 1)
    assert result.reason == "row missing: seq is not contiguous"


def test_deleting_the_last_rows_is_caught_by_the_head(ledger: Ledger) -> None:
    """Cutting the tail leaves a valid-looking chain, but shorter than the head says."""
    rows = _fill(ledger)
    drop_append_only_guard(ledger.engine)
    with ledger.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM entries WHERE seq >= :seq"), {"seq": rows - 1})

    result = ledger.verify()
    assert (result.ok, result.first_broken_seq, result.head_seq) == (False, rows - 1, rows)


def test_appends_continue_a_verified_chain(ledger: Ledger) -> None:
    """Verify is read-only: the chain grows on after it, still whole."""
    _fill(ledger, events=1)
    assert ledger.verify().ok
    accept(ledger, "evt-chain-later")
    assert ledger.verify().checked == 5
