"""The event contract: every sample validates; bad input gets field-level errors with no personal values."""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from typing import Any

import pytest

from comms.errors import InvalidEvent
from comms.events import EVENT_TYPES, event_json_schema, parse_event
from comms.samples import all_samples, load_sample


def errors_of(raw: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidEvent) as info:
        parse_event(raw)
    return {e.field: e.message for e in info.value.errors}


def test_every_type_has_a_sample_in_both_languages() -> None:
    seen = {(s["type"], s["recipient"]["language"]) for s in all_samples().values()}
    assert seen == {(t, lang) for t in EVENT_TYPES for lang in ("nl", "fr")}
    for raw in all_samples().values():
        parse_event(json.dumps(raw))


def test_invalid_national_number_is_refused_without_echoing_it() -> None:
    raw = load_sample("contribution-notice-nl")
    raw["recipient"]["national_number"] = "84022711080"  # an example from the eBox docs: invalid
    errors = errors_of(raw)
    assert "national number" in errors["recipient.national_number"]
    assert "84022711080" not in json.dumps(errors)


def test_invalid_enterprise_number_iban_and_structured_communication() -> None:
    raw = load_sample("company-contribution-notice-fr")
    raw["recipient"]["enterprise_number"] = "0123456789"
    raw["payload"]["payment"]["iban"] = "BE68539007547035"
    raw["payload"]["payment"]["structured_communication"] = "+++123/4567/89012+++"
    errors = errors_of(raw)
    assert "enterprise number" in errors["recipient.enterprise_number"]
    assert "IBAN" in errors["payload.payment.iban"]
    assert "structured communication" in errors["payload.payment.structured_communication"]


def test_unknown_fields_are_refused_without_repeating_their_name() -> None:
    raw = load_sample("tax-certificate-nl")
    raw["payload"]["bonus"] = "1.00"
    raw["recipient"]["85073003328"] = "An Peeters"  # a name upstream made up may be personal
    errors = errors_of(raw)
    assert set(errors) == {"payload.(unknown field)", "recipient.(unknown field)"}
    assert "bonus" not in str(errors) and "85073003328" not in str(errors)


def test_amounts_are_euros_with_cents() -> None:
    raw = load_sample("contribution-notice-fr")
    raw["payload"]["amount"] = "1234.567"
    assert "payload.amount" in errors_of(raw)


def test_a_decision_without_reasons_is_refused() -> None:
    raw = load_sample("decision-nl")
    raw["payload"]["reasons_in_fact"] = []
    errors = errors_of(raw)
    assert "payload.reasons_in_fact" in errors


def test_a_decision_without_appeal_information_is_refused() -> None:
    raw = load_sample("decision-fr")
    del raw["payload"]["appeal"]["court"]
    assert "payload.appeal.court" in errors_of(raw)


def test_a_recovery_without_its_details_is_refused() -> None:
    raw = load_sample("decision-recovery-nl")
    del raw["payload"]["recovery"]
    assert any("recovery details" in m for m in errors_of(raw).values())


@pytest.mark.parametrize("field", ["payment", "due_date"])
def test_a_recovery_without_its_repayment_details_is_refused_on_that_field(field: str) -> None:
    raw = load_sample("decision-recovery-fr")
    del raw["payload"]["recovery"][field]
    errors = errors_of(raw)
    assert list(errors) == [f"payload.recovery.{field}"]
    text = json.dumps(errors)
    assert "Dubois" not in text and "01010122296" not in text


def test_a_recovery_due_before_its_decision_is_refused_on_the_due_date() -> None:
    raw = load_sample("decision-recovery-nl")
    decided = date.fromisoformat(raw["payload"]["decision_date"])
    raw["payload"]["recovery"]["due_date"] = (decided - timedelta(days=1)).isoformat()
    errors = errors_of(raw)
    assert list(errors) == ["payload.recovery.due_date"]
    assert "decision" in errors["payload.recovery.due_date"]
    assert str(decided.year) not in json.dumps(errors)
    raw["payload"]["recovery"]["due_date"] = raw["payload"]["decision_date"]
    parse_event(raw)  # the same day is allowed


def test_a_recovery_with_a_wrong_structured_communication_is_refused_without_echoing_it() -> None:
    raw = load_sample("decision-recovery-nl")
    raw["payload"]["recovery"]["payment"]["structured_communication"] = "+++202/7900/10564+++"
    errors = errors_of(raw)
    message = errors["payload.recovery.payment.structured_communication"]
    assert "structured communication" in message and "10564" not in json.dumps(errors)


def test_a_recovery_of_nothing_is_refused() -> None:
    raw = load_sample("decision-recovery-nl")
    raw["payload"]["recovery"]["total"] = "0.00"
    raw["payload"]["recovery"]["calculation"] = [{"label": "Niets", "amount": "0.00"}]
    assert "payload.recovery.total" in errors_of(raw)


@pytest.mark.parametrize(
    ("sample", "field"),
    [
        ("contribution-notice-nl", "amount"),
        ("company-contribution-notice-fr", "amount"),
        ("payment-reminder-fr", "total_due"),
        ("formal-notice-nl", "total_due"),
    ],
)
def test_a_letter_that_asks_for_nothing_is_refused_on_its_amount(sample: str, field: str) -> None:
    """A payment letter for €0.00 is an upstream error, and no EPC QR code can carry it."""
    raw = load_sample(sample)
    raw["payload"][field] = "0.00"
    assert "greater than 0" in errors_of(raw)[f"payload.{field}"]


def test_totals_must_add_up() -> None:
    raw = load_sample("payment-reminder-nl")
    raw["payload"]["total_due"] = "1.00"
    assert any("total_due" in m for m in errors_of(raw).values())


def test_errors_never_carry_the_members_name_or_address() -> None:
    raw = copy.deepcopy(load_sample("payment-reminder-fr"))
    raw["recipient"]["address"]["postcode"] = "B-5000"
    raw["recipient"]["name"] = ""
    text = json.dumps(errors_of(raw))
    assert "Dubois" not in text and "Namur" not in text and "B-5000" not in text


def test_not_json_and_unknown_type() -> None:
    with pytest.raises(InvalidEvent):
        parse_event("{not json")
    raw = load_sample("decision-nl")
    raw["type"] = "birthday_card"
    assert "(event)" in errors_of(raw) or "type" in " ".join(errors_of(raw))


def test_schema_names_every_type() -> None:
    text = json.dumps(event_json_schema())
    for name in EVENT_TYPES:
        assert name in text


def test_a_wrong_type_or_recipient_kind_is_named_without_echoing_the_value() -> None:
    """Pydantic's own message quotes a rejected discriminator; ours lists what is accepted."""
    raw = load_sample("decision-nl")
    raw["type"] = "85073003328"
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    [(field, message)] = [(e.field, e.message) for e in caught.value.errors]
    assert field == "type" and "'decision'" in message and "85073003328" not in message
    raw = load_sample("decision-nl")
    raw["recipient"]["kind"] = "85073003328"
    with pytest.raises(InvalidEvent) as caught:
        parse_event(raw)
    assert [(e.field, e.message) for e in caught.value.errors] == [
        ("recipient.kind", "must be one of 'person', 'company'")
    ]
