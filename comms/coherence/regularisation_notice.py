"""Coherence rules of the regularisation: definitive contributions against provisional ones paid."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from comms.coherence import calculation
from comms.coherence.base import Rule, next_quarter, percent_of, quarter_end, quarter_of
from comms.doctypes.regularisation_notice import RegularisationNotice


def _income_of_the_year(p: RegularisationNotice, _issued_on: date) -> Iterator[str]:
    if p.calculation.income_year != p.year:
        yield "payload.calculation.income_year"


def _bands(p: RegularisationNotice, _issued_on: date) -> Iterator[str]:
    yield from calculation.bands_follow_each_other(p.calculation, "payload.calculation")
    yield from calculation.band_amounts(p.calculation, "payload.calculation")
    yield from calculation.yearly_from_bands(p.calculation, "payload.calculation")


def _costs(p: RegularisationNotice, _issued_on: date) -> Iterator[str]:
    c = p.calculation
    if percent_of(c.yearly_contribution, c.management_costs_percent) != p.management_costs:
        yield "payload.management_costs"


def _definitive(p: RegularisationNotice, _issued_on: date) -> Iterator[str]:
    if p.calculation.yearly_contribution + p.management_costs != p.definitive_total:
        yield "payload.definitive_total"


def _balance(p: RegularisationNotice, _issued_on: date) -> Iterator[str]:
    if p.definitive_total - p.provisional_paid != p.balance:
        yield "payload.balance"


def _due_next_quarter(p: RegularisationNotice, issued_on: date) -> Iterator[str]:
    if p.due_date is not None:
        due = quarter_end(*next_quarter(issued_on.year, quarter_of(issued_on)))
        if p.due_date != due:
            yield "payload.due_date"


def _refund_not_past(p: RegularisationNotice, issued_on: date) -> Iterator[str]:
    if p.refund is not None and p.refund.on_or_before < issued_on:
        yield "payload.refund.on_or_before"


RULES = (
    Rule(
        "income of the year itself",
        "domain §4: definitive = on the year's own income",
        _income_of_the_year,
    ),
    Rule(
        "bands add up",
        "arithmetic: rate × part of the income in the band, half up to the cent",
        _bands,
    ),
    Rule(
        "management costs", "arithmetic: the fund's percentage of the yearly contribution", _costs
    ),
    Rule("definitive total", "arithmetic: yearly contribution + management costs", _definitive),
    Rule("balance", "arithmetic: definitive total − provisional contributions paid", _balance),
    Rule(
        "due the quarter after issue",
        "domain §4: last day of the quarter after the one it was issued in",
        _due_next_quarter,
    ),
    Rule(
        "refund not in the past",
        "a promised refund date on or after the letter date",
        _refund_not_past,
    ),
)
