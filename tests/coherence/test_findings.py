"""Issue 16, findings 1-5: each letter the demo sent that contradicted itself is now refused, or
printed so that it holds together, as a member, a jurist and a proof-reader read it."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from babel.dates import format_date

from comms.coherence import letter as coherence
from comms.compose import Composer
from comms.errors import IncoherentLetter
from comms.events import parse_event
from comms.models import Status
from comms.payment import format_structured_communication
from comms.samples import all_samples
from tests.pipeline.conftest import Rig, make_rig
from tests.readback import no_qr_code, pdf_text, plain, qr_codes

ISSUED = date(2027, 1, 4)  # a Monday in January: the 7 % applies, the certificate's year ended
STORY = all_samples(ISSUED)


def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(STORY[name])


def broken(raw: dict[str, Any], issued: date = ISSUED) -> set[tuple[str, str]]:
    with pytest.raises(IncoherentLetter) as refused:
        coherence.check(parse_event(raw), issued)
    return set(refused.value.broken)


@pytest.fixture
async def rig(embedded) -> AsyncIterator[Rig]:  # type: ignore[no-untyped-def]
    r = make_rig(embedded)
    async with r.app:
        yield r


# --- finding 1: dates -------------------------------------------------------------------------


async def test_a_decision_dated_before_it_was_taken_is_refused_and_logged_without_the_date(
    rig: Rig,
) -> None:
    raw = sample("decision-nl")
    raw["payload"]["decision_date"] = (ISSUED + timedelta(days=30)).isoformat()
    outcome = await rig.app.pipeline.process(parse_event(raw))
    assert outcome.verdict == "refused"
    assert "decided before notified (payload.decision_date)" in (outcome.reason or "")
    assert "2027" not in (outcome.reason or "")
    history = rig.app.ledger.history(raw["event_id"])
    assert [e.status for e in history] == [Status.ACCEPTED, Status.REFUSED]
    assert "payload.decision_date" in (history[-1].reason or "")
    assert rig.emb.ebox.messages() == [] and rig.emb.smtp.messages() == []


def test_the_letter_is_dated_by_the_event_then_the_batch_never_the_wall_clock(
    composer: Composer,
) -> None:
    raw = sample("tax-certificate-nl")
    text = plain(
        pdf_text(composer.compose(parse_event(raw), issued_on=date(2027, 2, 1)).document.pdf)
    )
    assert "4 januari 2027" in text and "1 februari 2027" not in text
    del raw["issue_date"]
    text = plain(
        pdf_text(composer.compose(parse_event(raw), issued_on=date(2027, 2, 1)).document.pdf)
    )
    assert "1 februari 2027" in text


def test_a_tax_certificate_before_its_year_ended_is_refused() -> None:
    raw = sample("tax-certificate-fr")
    assert broken(raw, date(raw["payload"]["year"], 12, 5)) == {("year has ended", "payload.year")}


def test_a_reminder_whose_new_deadline_has_passed_is_refused() -> None:
    raw = sample("payment-reminder-nl")
    raw["payload"]["new_deadline"] = (ISSUED - timedelta(days=35)).isoformat()
    assert ("time to pay", "payload.new_deadline") in broken(raw)


def test_a_refusal_answering_a_request_received_after_it_is_refused() -> None:
    raw = sample("decision-fr")
    raw["payload"]["request_received_on"] = ISSUED.isoformat()
    assert broken(raw) == {("request before decision", "payload.request_received_on")}


# --- finding 2: sums --------------------------------------------------------------------------


def test_a_quarter_that_is_not_a_fourth_of_the_year_is_refused() -> None:
    """The demo printed 58,000 × 20.5 % and a quarter of € 1,204.43 (a fourth is € 2,972.50)."""
    raw = sample("contribution-notice-nl")
    calc = raw["payload"]["calculation"]
    calc["contribution"], calc["management_costs"] = "1204.43", "47.57"
    raw["payload"]["amount"] = "1252.00"
    assert ("quarter is a fourth of the year", "payload.calculation.contribution") in broken(raw)


def test_the_notice_prints_every_step_from_income_to_amount(composer: Composer) -> None:
    text = plain(
        pdf_text(composer.compose(parse_event(sample("contribution-notice-nl"))).document.pdf)
    )
    for printed in (
        "€ 58.000,00",
        "20,5 %",
        "€ 11.890,00",
        "€ 2.972,50",
        "3,95 %",
        "€ 117,41",
        "€ 3.089,91",
    ):
        assert printed in text, printed


def test_a_january_reminder_without_the_7_percent_is_refused() -> None:
    raw = sample("payment-reminder-fr")
    item = raw["payload"]["open_items"][0]
    seven = [s for s in item["surcharge_lines"] if s["rate_percent"] == "7"]
    assert seven, "the story's reminder of 4 January carries the 7 %"
    item["surcharge_lines"] = [s for s in item["surcharge_lines"] if s["rate_percent"] != "7"]
    cut = Decimal(seven[0]["amount"])
    item["surcharges"] = str(Decimal(item["surcharges"]) - cut)
    raw["payload"]["surcharges_total"] = str(Decimal(raw["payload"]["surcharges_total"]) - cut)
    raw["payload"]["total_due"] = str(Decimal(raw["payload"]["total_due"]) - cut)
    assert broken(raw) == {("surcharges by the rules", "payload.open_items.0.surcharge_lines")}


def test_a_surcharge_of_the_wrong_amount_is_refused() -> None:
    raw = sample("formal-notice-nl")
    line = raw["payload"]["open_items"][1]["surcharge_lines"][0]
    line["amount"] = str(Decimal(line["amount"]) + Decimal("0.01"))
    for key in ("surcharges",):
        item = raw["payload"]["open_items"][1]
        item[key] = str(Decimal(item[key]) + Decimal("0.01"))
    for key in ("surcharges_total", "total_due"):
        raw["payload"][key] = str(Decimal(raw["payload"][key]) + Decimal("0.01"))
    assert broken(raw) == {
        ("surcharges by the rules", "payload.open_items.1.surcharge_lines.0.amount")
    }


def test_the_january_formal_notice_prints_each_surcharge_with_its_date_and_rate(
    composer: Composer,
) -> None:
    text = plain(pdf_text(composer.compose(parse_event(sample("formal-notice-nl"))).document.pdf))
    assert "Verhoging van 7 % 01/01/2027" in text
    assert "Verhoging van 3 % 31/12/2026" in text


# --- finding 3: one structured communication per debt ----------------------------------------


def test_a_reminder_paying_two_debts_under_one_debts_reference_is_refused() -> None:
    raw = sample("formal-notice-nl")
    first = raw["payload"]["open_items"][0]["structured_communication"]
    raw["payload"]["payment"]["structured_communication"] = first
    assert broken(raw) == {("one reference per debt", "payload.payment.structured_communication")}


def test_two_debts_get_two_payment_blocks_each_with_its_own_reference_and_amount(
    composer: Composer,
) -> None:
    raw = sample("formal-notice-fr")
    pdf = composer.compose(parse_event(raw)).document.pdf
    text = plain(pdf_text(pdf))
    codes = {
        lines[9]: Decimal(lines[7].removeprefix("EUR"))
        for lines in (c.split("\n") for c in qr_codes(pdf))
    }
    expected = {
        i["structured_communication"]: Decimal(i["amount"]) + Decimal(i["surcharges"])
        for i in raw["payload"]["open_items"]
    }
    assert codes == expected and len(codes) == 2
    for reference in expected:
        assert text.count(format_structured_communication(reference)) >= 2  # table and block


# --- finding 4: the regularisation ------------------------------------------------------------


def test_a_regularisation_in_the_members_favour_says_how_much_and_to_which_account(
    composer: Composer,
) -> None:
    raw = sample("regularisation-notice-nl")
    assert Decimal(raw["payload"]["balance"]) < 0
    pdf = composer.compose(parse_event(raw)).document.pdf
    text = plain(pdf_text(pdf))
    assert "Voorlopige bijdragen 2025 die u al betaalde € 12.359,64" in text
    assert "In uw voordeel € 1.278,57" in text and "BE71 0961 2345 6769" in text
    assert no_qr_code(pdf)


def test_a_regularisation_to_pay_is_due_the_last_day_of_the_next_quarter(
    composer: Composer,
) -> None:
    raw = sample("regularisation-notice-fr")
    assert Decimal(raw["payload"]["balance"]) > 0
    text = plain(pdf_text(composer.compose(parse_event(raw)).document.pdf))
    assert "30 juin 2027" in text and "Reste à payer 1 278,60 €" in text
    raw["payload"]["due_date"] = "2027-03-31"
    assert broken(raw) == {("due the quarter after issue", "payload.due_date")}


# --- finding 5: samples a jurist would sign ---------------------------------------------------


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_the_refusal_is_a_decision_the_fund_takes_with_its_own_file_reference(lang: str) -> None:
    refusal, recovery = STORY[f"decision-{lang}"], STORY[f"decision-recovery-{lang}"]
    basis = " ".join(refusal["payload"]["legal_basis"]).lower()
    assert "38" in basis and "11" in basis  # KB nr. 38, art. 11, § 3 (reduction of provisional)
    assert "vrijstelling" not in basis and "dispense" not in basis  # the RSVZ decides those
    assert (
        refusal["payload"]["appeal"]["handling_service"]
        != recovery["payload"]["appeal"]["handling_service"]
    )
    assert (
        refusal["payload"]["appeal"]["file_reference"]
        != recovery["payload"]["appeal"]["file_reference"]
    )


@pytest.mark.parametrize("lang", ["nl", "fr"])
@pytest.mark.parametrize("day", [ISSUED, date(2026, 12, 5), date(2027, 4, 1), date(2027, 8, 16)])
def test_one_members_letters_agree_on_what_is_paid(lang: str, day: date) -> None:
    story = all_samples(day)
    open_debts = {
        (i["year"], i["quarter"]): i["structured_communication"]
        for name in (f"payment-reminder-{lang}", f"formal-notice-{lang}")
        for i in story[name]["payload"]["open_items"]
    }
    certificate = story[f"tax-certificate-{lang}"]["payload"]
    paid = {(certificate["year"], p["quarter"]) for p in certificate["paid"]}
    assert paid and not paid & set(open_debts)
    statement = story[f"account-statement-{lang}"]["payload"]
    charged = {
        (m["year"], m["quarter"]) for m in statement["movements"] if m["kind"] == "contribution"
    }
    settled = {(m["year"], m["quarter"]) for m in statement["movements"] if m["kind"] == "payment"}
    assert charged - settled == set(open_debts)
    assert len(set(open_debts.values())) == len(open_debts)  # one reference per debt
    for name, raw in story.items():
        assert coherence.findings(parse_event(raw), day) == [], name
        assert raw["issue_date"] == day.isoformat()


def test_the_refusal_letter_reads_its_dates_in_order(composer: Composer) -> None:
    raw = sample("decision-nl")
    text = plain(pdf_text(composer.compose(parse_event(raw)).document.pdf))
    received = date.fromisoformat(raw["payload"]["request_received_on"])
    assert format_date(received, "long", locale="nl_BE") in text
    assert received < date.fromisoformat(raw["payload"]["decision_date"]) <= ISSUED
