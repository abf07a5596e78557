"""Rules shared by the reminder and the formal notice: overdue debts, surcharges, one reference each."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

from comms.coherence.base import Rule, percent_of, quarter_ends_between

if TYPE_CHECKING:  # the document types import these rules: no import back at run time
    from comms.doctypes.parts import Arrears, OpenItem

QUARTERLY_RATE = Decimal("3")  # domain §4: 3 % at the end of each quarter unpaid
YEARLY_RATE = Decimal("7")  # domain §4: once, 1 January, on last year's contributions still unpaid
COMPANY_MONTHLY_RATE = Decimal("1")  # domain §6: +1 % per calendar month late


def expected_surcharges(item: OpenItem, issued_on: date) -> list[tuple[date, Decimal]]:
    """The (date, rate) of every surcharge an open debt carries on the letter date."""
    due = item.original_due_date
    if item.kind == "company_contribution":
        lines: list[tuple[date, Decimal]] = []
        year, month = due.year, due.month
        while True:
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)
            first = date(year, month, 1)
            if first > issued_on:
                return lines
            lines.append((first, COMPANY_MONTHLY_RATE))
    lines = [(end, QUARTERLY_RATE) for end in quarter_ends_between(due, issued_on)]
    new_year = date(due.year + 1, 1, 1)
    if new_year <= issued_on:
        lines.append((new_year, YEARLY_RATE))
    return sorted(lines)


def overdue(p: Arrears, issued_on: date) -> Iterator[str]:
    for i, item in enumerate(p.open_items):
        if item.original_due_date >= issued_on:
            yield f"payload.open_items.{i}.original_due_date"


def surcharges_by_the_rules(p: Arrears, issued_on: date) -> Iterator[str]:
    for i, item in enumerate(p.open_items):
        lines = sorted(item.surcharge_lines, key=lambda s: (s.on, s.rate_percent))
        if [(s.on, s.rate_percent) for s in lines] != expected_surcharges(item, issued_on):
            yield f"payload.open_items.{i}.surcharge_lines"
            continue
        for j, line in enumerate(item.surcharge_lines):
            if percent_of(item.amount, line.rate_percent) != line.amount:
                yield f"payload.open_items.{i}.surcharge_lines.{j}.amount"


def one_reference_per_debt(p: Arrears, _issued_on: date) -> Iterator[str]:
    seen: set[str] = set()
    for i, item in enumerate(p.open_items):
        if item.structured_communication in seen:
            yield f"payload.open_items.{i}.structured_communication"
        seen.add(item.structured_communication)
    covering = p.payment.structured_communication
    if covering is None:
        return
    only = len(p.open_items) == 1
    if (only and covering not in seen) or (not only and covering in seen):
        yield "payload.payment.structured_communication"


RULES = (
    Rule(
        "debts are overdue",
        "a reminder or a formal notice lists debts whose due date has passed",
        overdue,
    ),
    Rule(
        "surcharges by the rules",
        "domain §4 (3 % each quarter end, 7 % on 1 January) and §6 (companies: 1 % a month)",
        surcharges_by_the_rules,
    ),
    Rule(
        "one reference per debt",
        "domain §2 (Febelfin; CODA reconciliation)",
        one_reference_per_debt,
    ),
)
