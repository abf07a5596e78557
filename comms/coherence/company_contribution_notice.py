"""Coherence rules of the annual company contribution notice."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from comms.coherence.base import Rule, at_least_days_after
from comms.doctypes.company_contribution_notice import CompanyContributionNotice

MIN_DAYS_TO_PAY = 14  # gap: no legal minimum found; two weeks leaves a transfer time to arrive
DUE_MONTH, DUE_DAY = 6, 30  # domain §6: due by 30 June


def _due_30_june(p: CompanyContributionNotice, _issued_on: date) -> Iterator[str]:
    if p.due_date != date(p.year, DUE_MONTH, DUE_DAY):
        yield "payload.due_date"


def _time_to_pay(p: CompanyContributionNotice, issued_on: date) -> Iterator[str]:
    if not at_least_days_after(p.due_date, issued_on, MIN_DAYS_TO_PAY):
        yield "payload.due_date"


RULES = (
    Rule("due 30 June", "domain §6 (annual contribution of companies)", _due_30_june),
    Rule(
        "time to pay", f"at least {MIN_DAYS_TO_PAY} days after the letter date (gap)", _time_to_pay
    ),
)
