"""Search with the shared filters, and exports that read back to the very rows (and re-verify)."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest

from comms.ledger import Filters, Ledger
from comms.ledger.chain import verify_rows
from comms.ledger.export import pieces, read, read_entries
from comms.ledger.filters import FilterProblem
from comms.ledger.queries import iter_rows
from comms.ledger.schema import chain_head
from comms.models import ChannelName, Status
from tests.ledger.helpers import OTHER_PERSON, PERSON, Clock, accept


def _story(ledger: Ledger, clock: Clock) -> None:
    """Two people; eBox fails and post takes over for one, email works for the other."""
    accept(ledger, "evt-exp-0001", subject_id=PERSON, dossier="D-1", doc_type="decision")
    accept(
        ledger, "evt-exp-0002", subject_id=OTHER_PERSON, dossier="D-2", doc_type="tax_certificate"
    )
    clock.advance(60)
    for event_id, channel, evidence in (
        ("evt-exp-0001", ChannelName.EBOX, {"ebox_message_id": "m-1"}),
        ("evt-exp-0002", ChannelName.EMAIL, {"smtp_reply": "250 2.0.0 Ok: queued as ABC"}),
    ):
        ledger.record(
            event_id=event_id,
            status=Status.ROUTED,
            communication_id=f"c-{event_id}",
            channel=channel,
            reason='first choice; ünïcödé, "quotes", commas, and\na newline',
            evidence=evidence,
            document_sha256="a" * 64,
            template_version="t1",
            renderer_version="weasyprint 62",
        )
    clock.advance(3600)
    ledger.record(
        event_id="evt-exp-0001",
        status=Status.ROUTED,
        communication_id="c-post",
        channel=ChannelName.POST,
        reason="",  # stored as NULL: one spelling of nothing
        evidence={"print_batch": "B-7", "print_sequence": "12", "tracking_number": "RR1BE"},
    )


def test_filters_combine_and_count(ledger: Ledger, clock: Clock) -> None:
    """Each filter narrows; evidence finds a row by its tracking number; counts agree."""
    _story(ledger, clock)
    by = ledger.search
    assert len(by(Filters(subject_hmac=ledger.subject_hmac(PERSON)))) == 3
    assert [e.seq for e in by(Filters(communication_id="c-post"))] == [5]
    tracked = by(Filters(evidence_key="tracking_number", evidence_value="RR1BE"))
    assert [e.communication_id for e in tracked] == ["c-post"]
    assert by(Filters(evidence_key="tracking_number", evidence_value="RR2BE")) == []
    both = Filters(channel=ChannelName.EMAIL, status=Status.ROUTED, dossier="D-2")
    assert [e.event_id for e in by(both)] == ["evt-exp-0002"]
    late = Filters(since=datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
    assert [e.seq for e in by(late)] == [5]
    assert ledger.count(Filters()) == 5 and ledger.count(late) == 1
    assert by(Filters(communication_id="c-post"))[0].reason is None


def test_filters_refuse_what_they_cannot_mean(ledger: Ledger) -> None:
    with pytest.raises(ValueError, match="subject_hmac"):
        Filters(subject_hmac=PERSON)  # a clear number is not a hash
    with pytest.raises(ValueError, match="evidence"):
        Filters(evidence_key="tracking_number")
    with pytest.raises(ValueError, match="time zone"):
        Filters(since=datetime(2026, 1, 1))
    with pytest.raises(ValueError) as refused:
        ledger.subject_hmac("84022711080")  # invalid check digits
    assert "84022711080" not in str(refused.value)


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_an_export_reads_back_to_the_same_rows(ledger: Ledger, clock: Clock, fmt: str) -> None:
    """Export, read back: the same entries, and the chain recomputes over the file alone."""
    _story(ledger, clock)
    out = io.StringIO()
    assert ledger.export(Filters(), out, fmt) == 5  # type: ignore[arg-type]
    text = out.getvalue()
    back = read_entries(io.StringIO(text), fmt)  # type: ignore[arg-type]
    assert back == sorted(ledger.search(limit=100), key=lambda e: e.seq)
    with ledger.engine.connect() as conn:
        head = conn.execute(chain_head.select()).one()
    rows = list(read(io.StringIO(text), fmt))  # type: ignore[arg-type]
    assert verify_rows(rows, head.seq, head.row_hash).ok

    # The export is evidence too: one changed character is found and located.
    tampered = text.replace("RR1BE", "RR9BE")
    rows = list(read(io.StringIO(tampered), fmt))  # type: ignore[arg-type]
    result = verify_rows(rows, head.seq, head.row_hash)
    assert not result.ok and result.first_broken_seq == 5


def test_a_filtered_export_holds_only_its_rows(ledger: Ledger, clock: Clock) -> None:
    _story(ledger, clock)
    out = io.StringIO()
    ledger.export(Filters(subject_hmac=ledger.subject_hmac(OTHER_PERSON)), out, "jsonl")
    assert [e.event_id for e in read_entries(io.StringIO(out.getvalue()), "jsonl")] == [
        "evt-exp-0002",
        "evt-exp-0002",
    ]
    assert OTHER_PERSON not in out.getvalue()


def test_streamed_pieces_equal_the_file(ledger: Ledger, clock: Clock) -> None:
    """The HTTP export streams in pieces; joined, they are the CLI's file (header once)."""
    _story(ledger, clock)
    for fmt in ("csv", "jsonl"):
        whole = io.StringIO()
        ledger.export(Filters(), whole, fmt)  # type: ignore[arg-type]
        assert "".join(ledger.iter_export(Filters(), fmt)) == whole.getvalue()  # type: ignore[arg-type]
        with ledger.engine.connect() as conn:
            small = list(pieces(iter_rows(conn, Filters()), fmt, size=2))  # type: ignore[arg-type]
        assert len(small) == 3 and "".join(small) == whole.getvalue()


def test_the_cli_and_the_api_read_filters_from_text_alike() -> None:
    """One parser for both doors: a bad value is named by its field, never quoted."""
    read = Filters.from_text(
        {
            "channel": "post",
            "status": "dispatched",
            "evidence": "tracking_number=RR1BE",
            "dossier": " ",
        }
    )
    assert read == Filters(
        channel=ChannelName.POST,
        status=Status.DISPATCHED,
        evidence_key="tracking_number",
        evidence_value="RR1BE",
    )
    for field, text in (("channel", "fax-85073003328"), ("since", "yesterday 85073003328")):
        with pytest.raises(FilterProblem) as refused:
            Filters.from_text({field: text})
        assert refused.value.field == field and "85073003328" not in str(refused.value)
