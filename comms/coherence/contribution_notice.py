"""Coherence rules of the quarterly contribution notice (vervaldagbericht / avis d'échéance)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from comms.coherence import calculation
from comms.coherence.base import Rule, at_least_days_after, next_quarter, percent_of, quarter_end
from comms.doctypes.contribution_notice import ContributionNotice

MIN_DAYS_TO_PAY = 14  # gap: no legal minimum found; two weeks leaves a transfer time to arrive
INCOME_YEARS_BACK = 3  # domain §4: the income of three years earlier, indexed


def _due_at_quarter_end(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    deferred = quarter_end(*next_quarter(p.year, p.quarter))  # starters: one quarter later
    if p.due_date not in (quarter_end(p.year, p.quarter), deferred):
        yield "payload.due_date"


def _time_to_pay(p: ContributionNotice, issued_on: date) -> Iterator[str]:
    if not at_least_days_after(p.due_date, issued_on, MIN_DAYS_TO_PAY):
        yield "payload.due_date"


def _income_year(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    if p.calculation.income_year != p.year - INCOME_YEARS_BACK:
        yield "payload.calculation.income_year"


def _bands(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    yield from calculation.bands_follow_each_other(p.calculation, "payload.calculation")
    yield from calculation.band_amounts(p.calculation, "payload.calculation")
    yield from calculation.yearly_from_bands(p.calculation, "payload.calculation")


def _quarter(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    c = p.calculation
    if not calculation.quarter_of_yearly(c.yearly_contribution, c.contribution):
        yield "payload.calculation.contribution"


def _costs(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    c = p.calculation
    if percent_of(c.contribution, c.management_costs_percent) != c.management_costs:
        yield "payload.calculation.management_costs"


RULES = (
    Rule(
        "due at the quarter's end",
        "domain §4 (RSVZ; starters one quarter later)",
        _due_at_quarter_end,
    ),
    Rule(
        "time to pay", f"at least {MIN_DAYS_TO_PAY} days after the letter date (gap)", _time_to_pay
    ),
    Rule("income of three years earlier", "domain §4 (RSVZ/INASTI)", _income_year),
    Rule(
        "bands add up",
        "arithmetic: rate × part of the income in the band, half up to the cent",
        _bands,
    ),
    Rule(
        "quarter is a fourth of the year",
        "domain §4: the yearly contribution ÷ 4, half up",
        _quarter,
    ),
    Rule(
        "management costs",
        "arithmetic: the fund's percentage of the quarter's contribution",
        _costs,
    ),
)
