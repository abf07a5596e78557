"""Checkpoints kept outside the database catch the rewrite that verify alone cannot."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from comms.archive import Archive
from comms.ledger import Ledger, RetentionPolicy
from comms.ledger.chain import GENESIS
from comms.ledger.checkpoints import Checkpoint
from comms.ledger.schema import chain_head, entries, tombstone_head, tombstones
from comms.models import ChannelName, Status
from tests.ledger.helpers import Clock, accept, drop_append_only_guard, rewrite_history_from


def _letters(ledger: Ledger, prefix: str, count: int = 3) -> None:
    for n in range(count):
        accept(ledger, f"{prefix}-{n:04d}")
        ledger.record(
            event_id=f"{prefix}-{n:04d}",
            status=Status.ROUTED,
            communication_id=f"{prefix}-com-{n}",
            channel=ChannelName.EMAIL,
            reason="consent given",
        )


def test_checkpoints_agree_with_an_untouched_ledger(ledger: Ledger, clock: Clock) -> None:
    verified, empty = ledger.checkpoint()
    assert verified.ok and verified.checked == 0
    assert (empty.seq, empty.tombstone_seq) == (0, 0)
    _letters(ledger, "early")
    _, first = ledger.checkpoint()
    clock.advance(86400)
    _letters(ledger, "later")
    _, second = ledger.checkpoint()
    assert first.seq == 6 and second.seq == 12 and second.made_at > first.made_at
    lines = [p.to_line() for p in (empty, first, second)]
    assert [Checkpoint.from_line(line) for line in lines] == [empty, first, second]
    assert ledger.check_checkpoints(enumerate((empty, first, second), start=1)) == []


def test_a_rewritten_history_passes_verify_but_not_the_checkpoint(ledger: Ledger) -> None:
    _letters(ledger, "early")
    _, kept = ledger.checkpoint()  # what the WORM bucket holds
    _letters(ledger, "later")
    rewrite_history_from(ledger.engine, 2)

    assert ledger.verify().ok  # the chain is valid on its own: this is why checkpoints exist
    [finding] = ledger.check_checkpoints([(1, kept)])
    assert (finding.line, finding.chain, finding.seq) == (1, "entries", 6)
    assert "now hashes to" in finding.reason


def test_a_cut_tail_is_named_by_the_checkpoint(ledger: Ledger) -> None:
    _letters(ledger, "early")
    _, kept = ledger.checkpoint()
    drop_append_only_guard(ledger.engine)
    with ledger.engine.begin() as conn:
        # Only the last hand-over: cutting an `accepted` row would leave its event row behind,
        # which verify names on its own (tests/ledger/test_subject_binding.py).
        conn.execute(sa.delete(entries).where(entries.c.seq >= 6))
        last = conn.execute(sa.select(entries.c.row_hash).where(entries.c.seq == 5)).scalar_one()
        conn.execute(sa.update(chain_head).values(seq=5, row_hash=last))
    assert ledger.verify().ok
    [finding] = ledger.check_checkpoints([(7, kept)])
    assert (finding.line, finding.seq, finding.reason) == (7, 6, "row 6 is gone")


GOOD = json.dumps(
    {
        "made_at": "2027-01-04T09:00:00.000000Z",
        "row_hash": "a" * 64,
        "seq": 6,
        "tombstone_hash": "0" * 64,
        "tombstone_seq": 0,
    },
    separators=(",", ":"),
    sort_keys=True,
)


def test_a_well_formed_line_reads_back() -> None:
    assert Checkpoint.from_line(GOOD).seq == 6


@pytest.mark.parametrize(
    "line",
    [
        "",
        "{}",
        "not json",
        "[]",
        GOOD.replace('"seq":6', '"seq":6.9'),
        GOOD.replace('"seq":6', '"seq":true'),
        GOOD.replace('"seq":6', '"seq":-1'),
        GOOD.replace("a" * 64, "A" * 64),
        GOOD.replace('"tombstone_seq":0', '"tombstone_seq":0,"extra":1'),
    ],
)
def test_a_line_that_is_not_a_checkpoint_is_refused(line: str) -> None:
    with pytest.raises(ValueError, match="not a checkpoint line"):
        Checkpoint.from_line(line)


def test_a_cut_tombstone_chain_is_named_by_the_checkpoint(
    ledger: Ledger, clock: Clock, tmp_path: Path
) -> None:
    clock.now = datetime(2014, 5, 1, 9, 0, tzinfo=UTC)
    accept(ledger, "evt-ckpt-old", doc_type="decision")
    clock.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    policy = RetentionPolicy(years_by_type={}, default_years=10, rejected_years=1)
    assert ledger.purge(date(2026, 3, 2), policy, Archive(tmp_path / "a"), actor="cli:ops").events
    verified, kept = ledger.checkpoint()
    assert verified.ok and kept.tombstone_seq == 1

    with ledger.engine.begin() as conn:  # the purge's record removed, its head put back
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER tombstones_append_only ON tombstones")
        else:
            conn.exec_driver_sql("DROP TRIGGER tombstones_no_delete")
        conn.execute(sa.delete(tombstones))
        conn.execute(sa.update(tombstone_head).values(seq=0, row_hash=GENESIS))
    assert ledger.verify().ok
    [finding] = ledger.check_checkpoints([(1, kept)])
    assert (finding.chain, finding.seq, finding.reason) == ("tombstones", 1, "row 1 is gone")
