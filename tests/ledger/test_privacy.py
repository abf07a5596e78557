"""Domain §9: the national number is never stored in clear, neither in rows nor in the file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import sqlalchemy as sa

from comms.errors import FieldError
from comms.identifiers import format_national_number
from comms.ledger import Filters, Ledger
from comms.ledger.schema import metadata
from comms.models import ChannelName, Status
from tests.ledger.helpers import OTHER_PERSON, PERSON, accept

NUMBERS = (PERSON, OTHER_PERSON)
SPELLINGS = [s for n in NUMBERS for s in (n, format_national_number(n))]


def _use_every_path(ledger: Ledger) -> None:
    accept(ledger, "evt-priv-0001", subject_id=PERSON, dossier="D-PRIV-1")
    accept(
        ledger, "evt-priv-0002", subject_id=format_national_number(OTHER_PERSON), dossier="D-PRIV-2"
    )
    ledger.record(
        event_id="evt-priv-0001",
        status=Status.ROUTED,
        communication_id="com-priv-1",
        channel=ChannelName.EBOX,
        evidence={"ebox_message_id": "m-1"},
    )
    raw = f'{{"event_id": "evt-priv-0003", "recipient": {{"national_number": "{PERSON}"}}}}'
    ledger.reject(
        source="api",
        raw=raw,
        errors=[FieldError("type", "Field required")],
        event_id="evt-priv-0003",
    )
    assert len(ledger.search(Filters(subject_hmac=ledger.subject_hmac(PERSON)))) == 2
    assert len(ledger.search(Filters(subject_hmac=ledger.subject_hmac(OTHER_PERSON)))) == 1
    assert ledger.verify().ok


def test_no_row_holds_a_number_in_clear(ledger: Ledger, caplog: pytest.LogCaptureFixture) -> None:
    """Every column of every table, read back as text, is free of both numbers in both spellings."""
    caplog.set_level(logging.DEBUG)
    _use_every_path(ledger)

    with ledger.engine.connect() as conn:
        dump = "\n".join(
            repr(tuple(row))
            for table in metadata.sorted_tables
            for row in conn.execute(sa.select(table))
        )
    assert "D-PRIV-1" in dump  # the dump did read the rows
    for spelling in SPELLINGS:
        assert spelling not in dump
        assert spelling not in caplog.text
    # ...and yet the data is all there for those entitled to it.
    assert PERSON in (ledger.event_snapshot("evt-priv-0001") or "")
    assert PERSON in (ledger.rejections(limit=1)[0].raw or "")


def test_the_sqlite_file_holds_no_number_in_clear(tmp_path: Path) -> None:
    """The bytes on disk (database, WAL and shared memory) never contain a number."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", "test-hmac-secret")
    ledger.migrate()
    _use_every_path(ledger)
    files = sorted(tmp_path.glob("ledger.db*"))
    during = b"".join(p.read_bytes() for p in files)
    ledger.close()  # the last connection checkpoints the WAL into the main file
    after = b"".join(p.read_bytes() for p in sorted(tmp_path.glob("ledger.db*")))

    assert any(p.name.endswith("-wal") for p in files)
    for data in (during, after):
        assert b"D-PRIV-1" in data  # the search does see the content
        for spelling in SPELLINGS:
            assert spelling.encode() not in data
