"""Structured communications and the EPC QR payload follow Febelfin and EPC069-12 (domain §2-3)."""

from decimal import Decimal

import pytest

from comms.payment import (
    epc_payload,
    format_structured_communication,
    is_valid_structured_communication,
    structured_communication_from_base,
)


@pytest.mark.parametrize(
    ("base", "printed"),
    [
        ("1234567890", "+++123/4567/89002+++"),
        ("0202400001", "+++020/2400/00192+++"),
        ("0000000097", "+++000/0000/09797+++"),
        ("1000000000", "+++100/0000/00034+++"),
        ("9999999999", "+++999/9999/99948+++"),
    ],
)
def test_domain_examples(base: str, printed: str) -> None:
    ogm = structured_communication_from_base(base)
    assert format_structured_communication(ogm) == printed
    assert is_valid_structured_communication(printed)
    assert is_valid_structured_communication(ogm)


@pytest.mark.parametrize(
    "value",
    [
        "+++123/4567/89012+++",
        "123456789012",
        "+++123/4567/8900+++",
        "12345678900",
        "+++123/4567/89002+++ ",
        "abc",
    ],
)
def test_invalid_structured_communications(value: str) -> None:
    assert not is_valid_structured_communication(
        value.strip() + ("x" if value.endswith(" ") else "")
    )


def test_epc_payload_lines() -> None:
    payload = epc_payload(
        beneficiary="Sociaal Verzekeringsfonds Voorbeeld vzw",
        iban="BE68 5390 0754 7034",
        bic="GKCCBEBB",
        amount=Decimal("812.34"),
        reference="+++123/4567/89002+++",
    )
    lines = payload.split("\n")
    assert lines[:4] == ["BCD", "002", "1", "SCT"]
    assert lines[4] == "GKCCBEBB"
    assert lines[6] == "BE68539007547034"
    assert lines[7] == "EUR812.34"
    assert lines[9] == "123456789002"  # line 10: the 12-digit OGM, structured (Belgian practice)
    assert len(lines) == 10  # no unstructured text next to the reference


def test_epc_amount_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="between"):
        epc_payload(
            beneficiary="F",
            iban="BE68539007547034",
            bic=None,
            amount=Decimal("0"),
            reference="123456789002",
        )
