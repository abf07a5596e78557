"""What every coherence rule shares: the finding it reports, the calendar and the rounding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

CENT = Decimal("0.01")
MIN_DAYS_TO_PAY = 14  # gap: no legal minimum found; two weeks leaves a transfer time to arrive


@dataclass(frozen=True)
class Finding:
    """A rule the letter breaks and the field to correct; never the value (it may be personal)."""

    rule: str
    field: str

    def __str__(self) -> str:
        return f"{self.rule} ({self.field})"


@dataclass(frozen=True)
class Rule:
    """One coherence rule of a document type: a name, where it comes from, and its check.

    `check(payload, issued_on)` yields the fields that break the rule; nothing when it holds.
    """

    name: str
    source: str
    check: Callable[[Any, date], Iterator[str]]

    def findings(self, payload: Any, issued_on: date) -> Iterator[Finding]:
        for field in self.check(payload, issued_on):
            yield Finding(self.name, field)


def cents(value: Decimal) -> Decimal:
    """Rounded to the cent, half up: the one rounding every printed amount declares."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def percent_of(amount: Decimal, rate_percent: Decimal) -> Decimal:
    return cents(amount * rate_percent / 100)


def quarter_of(day: date) -> int:
    return (day.month - 1) // 3 + 1


def quarter_end(year: int, quarter: int) -> date:
    """31/3, 30/6, 30/9, 31/12: the day a quarter's contribution must be credited (domain §4)."""
    first_of_next = date(year + quarter // 4, quarter % 4 * 3 + 1, 1)
    return first_of_next - timedelta(days=1)


def next_quarter(year: int, quarter: int) -> tuple[int, int]:
    return (year + 1, 1) if quarter == 4 else (year, quarter + 1)


def quarter_ends_between(first: date, before: date) -> Iterator[date]:
    """Every quarter end from `first` (included) up to the day before `before`."""
    year, quarter = first.year, quarter_of(first)
    end = quarter_end(year, quarter)
    if end < first:
        year, quarter = next_quarter(year, quarter)
        end = quarter_end(year, quarter)
    while end < before:
        yield end
        year, quarter = next_quarter(year, quarter)
        end = quarter_end(year, quarter)


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it has no such day."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


def at_least_days_after(deadline: date | None, issued_on: date, days: int) -> bool:
    return deadline is None or deadline >= issued_on + timedelta(days=days)


def time_to_pay(field: str) -> Rule:
    """The rule that the date to pay by, the payload's `field`, leaves MIN_DAYS_TO_PAY days."""

    def check(payload: Any, issued_on: date) -> Iterator[str]:
        if not at_least_days_after(getattr(payload, field), issued_on, MIN_DAYS_TO_PAY):
            yield f"payload.{field}"

    return Rule(
        "time to pay", f"at least {MIN_DAYS_TO_PAY} days after the letter date (gap)", check
    )
