"""Belgian identifiers are accepted or refused by their check digits (domain §1)."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from comms.identifiers import (
    format_enterprise_number,
    format_iban,
    format_national_number,
    is_valid_enterprise_number,
    is_valid_iban,
    is_valid_national_number,
)


@pytest.mark.parametrize(
    "number",
    [
        "85073003328",
        "01010122296",
        "85.07.30-033.28",
        "98472899765",  # a bis number: month + 40 (python-stdnum's example)
        "01490700185",  # a bis number, born 2001
    ],
)
def test_valid_national_numbers(number: str) -> None:
    assert is_valid_national_number(number)


@pytest.mark.parametrize(
    "number",
    [
        "84022711080",
        "71022722580",
        "01010122233",
        "85073003329",
        "8507300332",
        "850730033281",
        "8507300332a",
        "85133003370",  # month 13: mod 97 holds, no such birth date (issue 16, finding 9)
        "85993003390",  # month 99
        "85533003359",  # a bis number of month 13 (53 = 13 + 40)
    ],
)
def test_invalid_national_numbers_including_the_ebox_documentation_examples(number: str) -> None:
    assert not is_valid_national_number(number)


@pytest.mark.parametrize(
    "number", ["0406798006", "0852093431", "0220916609", "0474028805", "0406.798.006"]
)
def test_valid_enterprise_numbers(number: str) -> None:
    assert is_valid_enterprise_number(number)


@pytest.mark.parametrize("number", ["0123456789", "2406798006", "0406798007", "406798006"])
def test_invalid_enterprise_numbers(number: str) -> None:
    assert not is_valid_enterprise_number(number)


@pytest.mark.parametrize(
    "iban", ["BE68539007547034", "BE71096123456769", "BE72000000001616", "BE68 5390 0754 7034"]
)
def test_valid_ibans(iban: str) -> None:
    assert is_valid_iban(iban)


@pytest.mark.parametrize(
    "iban", ["BE68539007547035", "BE69539007547034", "BE6853900754703", "XX68539007547034"]
)
def test_invalid_ibans(iban: str) -> None:
    assert not is_valid_iban(iban)


def test_printed_forms() -> None:
    assert format_national_number("85073003328") == "85.07.30-033.28"
    assert format_enterprise_number("0406798006") == "0406.798.006"
    assert format_iban("BE68539007547034") == "BE68 5390 0754 7034"


@given(st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)), st.integers(1, 998))
def test_numbers_built_by_the_rule_validate_and_a_wrong_check_does_not(
    born: date, sequence: int
) -> None:
    born_2000 = born.year >= 2000
    digits = f"{born:%y%m%d}{sequence:03d}"
    check = 97 - int(("2" if born_2000 else "") + digits) % 97
    assert is_valid_national_number(f"{digits}{check:02d}")
    other = 97 - int(("" if born_2000 else "2") + digits) % 97
    wrong = next(c for c in range(100) if c not in (check, other))
    assert not is_valid_national_number(f"{digits}{wrong:02d}")
