"""Thousands of valid events per type hold together, and a few dozen read back from their PDFs agree.

The coherence rules run in-process on every generated event (cheap); a bounded number are rendered
to PDF and read back as a member would read them: the letter date, every amount the calculation
prints, every debt's own structured communication and the QR codes' references and amounts.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from babel.dates import format_date
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from comms.coherence import letter as coherence
from comms.compose import Composer
from comms.errors import IncoherentLetter
from comms.events import parse_event
from comms.payment import format_structured_communication
from tests.coherence.strategies import BY_TYPE
from tests.readback import money, pdf_text, plain, qr_codes

CHECKED_PER_TYPE = 1000  # in-process rule checks per document type
RENDERED_PER_TYPE = 3  # PDFs per type: 8 types, 24 letters, about half a minute


@pytest.mark.parametrize("doc_type", sorted(BY_TYPE))
def test_valid_events_break_no_rule(doc_type: str) -> None:
    @settings(
        max_examples=CHECKED_PER_TYPE, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(BY_TYPE[doc_type])
    def check(drawn: tuple[dict[str, Any], date]) -> None:
        raw, issued = drawn
        event = parse_event(raw)
        assert coherence.findings(event, issued) == []

    check()


def _too_late(payload: dict[str, Any]) -> tuple[date, str] | None:
    """A letter date that contradicts the event, and the field the refusal must name."""
    day = date.fromisoformat
    nxt = timedelta(days=1)
    if "decision_date" in payload:
        return day(payload["decision_date"]) - nxt, "payload.decision_date"
    if "paid" in payload:
        return date(payload["year"], 12, 31), "payload.year"
    if "statement_date" in payload:
        return day(payload["statement_date"]) - nxt, "payload.statement_date"
    for field in ("due_date", "new_deadline", "deadline"):
        if payload.get(field):
            return day(payload[field]), f"payload.{field}"
    if payload.get("refund"):
        return day(payload["refund"]["on_or_before"]) + nxt, "payload.refund.on_or_before"
    return None


@pytest.mark.parametrize("doc_type", sorted(BY_TYPE))
def test_a_letter_dated_against_its_own_dates_is_refused_naming_the_field(doc_type: str) -> None:
    @settings(max_examples=200, deadline=None)
    @given(BY_TYPE[doc_type])
    def check(drawn: tuple[dict[str, Any], date]) -> None:
        raw, _ = drawn
        late = _too_late(raw["payload"])
        if late is None:
            return
        letter_date, field = late
        event = parse_event(raw)
        with pytest.raises(IncoherentLetter) as refused:
            coherence.check(event, letter_date)
        assert field in {f for _, f in refused.value.broken}
        assert raw["recipient"]["name"] not in str(refused.value)

    check()


def _printed_amounts(payload: dict[str, Any]) -> list[str]:
    """The amounts a letter of this payload must print, wherever they sit in it."""
    out: list[str] = []
    calc = payload.get("calculation")
    if isinstance(calc, dict):
        out += [b["amount"] for b in calc["brackets"]] + [calc["yearly_contribution"]]
        out += [calc[k] for k in ("contribution", "management_costs") if k in calc]
    for item in payload.get("open_items", []):
        out += [item["amount"], *(s["amount"] for s in item["surcharge_lines"])]
    out += [
        payload[k]
        for k in (
            "amount",
            "total_due",
            "surcharges_total",
            "definitive_total",
            "provisional_paid",
            "deductible_total",
        )
        if k in payload
    ]
    return out


@pytest.mark.parametrize("doc_type", sorted(BY_TYPE))
def test_rendered_letters_read_back_without_contradiction(
    composer: Composer, doc_type: str
) -> None:
    @settings(
        max_examples=RENDERED_PER_TYPE,
        deadline=None,
        derandomize=True,
        phases=[Phase.generate],  # no shrinking: each try renders a PDF
        suppress_health_check=list(HealthCheck),
    )
    @given(BY_TYPE[doc_type], st.just(None))
    def check(drawn: tuple[dict[str, Any], date], _: None) -> None:
        raw, issued = drawn
        event = parse_event(raw)
        lang = event.recipient.language.value
        pdf = composer.compose(event).document.pdf  # the event's own issue date
        text = plain(pdf_text(pdf))
        assert plain(format_date(issued, "long", locale=f"{lang}_BE")) in text
        for amount in _printed_amounts(raw["payload"]):
            assert money(amount, lang) in text, amount
        payload = raw["payload"]
        items = payload.get("open_items", [])
        for item in items:
            assert format_structured_communication(item["structured_communication"]) in text
        codes = qr_codes(pdf)
        references = [c.split("\n")[9] for c in codes]
        paid = sum((Decimal(c.split("\n")[7].removeprefix("EUR")) for c in codes), Decimal("0"))
        if items and payload["payment"]["structured_communication"] is None:
            # one block per debt, each with its own reference and the debt's own amount
            assert sorted(references) == sorted(i["structured_communication"] for i in items)
            assert paid == Decimal(payload["total_due"])
        elif items:
            assert references == [payload["payment"]["structured_communication"]]
            assert paid == Decimal(payload["total_due"])
        for code in codes:
            assert format_structured_communication(code.split("\n")[9]) in text

    check()
