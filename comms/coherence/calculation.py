"""Rules for a printed contribution calculation: each line follows from the lines above it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from comms.coherence.base import Rule, cents, percent_of

if TYPE_CHECKING:  # the document types import these rules: no import back at run time
    from comms.doctypes.parts import YearlyCalculation


def bands_follow_each_other(calc: YearlyCalculation, at: str) -> Iterator[str]:
    """The bands start at 0 and each starts where the previous one ends; only the last is open."""
    expected_from = Decimal("0")
    for i, band in enumerate(calc.brackets):
        if band.income_from != expected_from:
            yield f"{at}.brackets.{i}.income_from"
        last = i == len(calc.brackets) - 1
        if band.income_to is None:
            if not last:
                yield f"{at}.brackets.{i}.income_to"
            break
        if band.income_to <= band.income_from:
            yield f"{at}.brackets.{i}.income_to"
        expected_from = band.income_to


def band_amounts(calc: YearlyCalculation, at: str) -> Iterator[str]:
    """Each band: its rate on the part of the income inside it, rounded to the cent."""
    for i, band in enumerate(calc.brackets):
        top = calc.reference_income if band.income_to is None else band.income_to
        base = max(Decimal("0"), min(calc.reference_income, top) - band.income_from)
        if percent_of(base, band.rate_percent) != band.amount:
            yield f"{at}.brackets.{i}.amount"


def yearly_from_bands(calc: YearlyCalculation, at: str) -> Iterator[str]:
    """The yearly contribution is the bands' sum, or the minimum above it, or the maximum below it."""
    total = sum((b.amount for b in calc.brackets), Decimal("0"))
    yearly = calc.yearly_contribution
    if (
        (calc.adjusted_to is None and yearly != total)
        or (calc.adjusted_to == "minimum" and yearly <= total)
        or (calc.adjusted_to == "maximum" and yearly >= total)
    ):
        yield f"{at}.yearly_contribution"


def quarter_of_yearly(yearly: Decimal, quarterly: Decimal) -> bool:
    return cents(yearly / 4) == quarterly


def _bands(p: Any, _issued_on: date) -> Iterator[str]:
    """For any payload printing a `calculation` (a YearlyCalculation)."""
    yield from bands_follow_each_other(p.calculation, "payload.calculation")
    yield from band_amounts(p.calculation, "payload.calculation")
    yield from yearly_from_bands(p.calculation, "payload.calculation")


BANDS_ADD_UP = Rule(
    "bands add up", "arithmetic: rate × part of the income in the band, half up to the cent", _bands
)
