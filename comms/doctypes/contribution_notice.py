"""Vervaldagbericht / avis d'échéance: a quarterly provisional contribution."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from comms.coherence import calculation
from comms.coherence.base import Rule, next_quarter, percent_of, quarter_end, time_to_pay
from comms.doctypes.base import DocType, single
from comms.doctypes.parts import (
    AmountDue,
    Envelope,
    Money,
    Payment,
    Quarter,
    Strict,
    Year,
    YearlyCalculation,
)


class CalculationBasis(YearlyCalculation):
    """How a quarter's provisional contribution was computed, so the member can check it."""

    contribution: Money = Field(description="The quarter's contribution: the yearly one ÷ 4.")
    management_costs: Money = Decimal("0.00")


class ContributionNotice(Strict):
    """Vervaldagbericht / avis d'échéance for a quarterly provisional contribution."""

    kind: Literal["provisional"] = "provisional"
    year: Year
    quarter: Quarter
    amount: AmountDue
    due_date: date
    calculation: CalculationBasis
    payment: Payment

    @model_validator(mode="after")
    def _amount_matches_calculation(self) -> ContributionNotice:
        if self.calculation.contribution + self.calculation.management_costs != self.amount:
            raise ValueError("amount must equal the contribution plus the management costs")
        return self


class ContributionNoticeEvent(Envelope):
    type: Literal["contribution_notice"]
    payload: ContributionNotice


INCOME_YEARS_BACK = 3  # domain §4: the income of three years earlier, indexed


def _due_at_quarter_end(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    deferred = quarter_end(*next_quarter(p.year, p.quarter))  # starters: one quarter later
    if p.due_date not in (quarter_end(p.year, p.quarter), deferred):
        yield "payload.due_date"


def _income_year(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    if p.calculation.income_year != p.year - INCOME_YEARS_BACK:
        yield "payload.calculation.income_year"


def _quarter(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    c = p.calculation
    if not calculation.quarter_of_yearly(c.yearly_contribution, c.contribution):
        yield "payload.calculation.contribution"


def _costs(p: ContributionNotice, _issued_on: date) -> Iterator[str]:
    c = p.calculation
    if percent_of(c.contribution, c.management_costs_percent) != c.management_costs:
        yield "payload.calculation.management_costs"


# Coherence: what the letter prints holds together on its date (comms.coherence, docs/letters.md).
RULES = (
    Rule(
        "due at the quarter's end",
        "domain §4 (RSVZ; starters one quarter later)",
        _due_at_quarter_end,
    ),
    time_to_pay("due_date"),
    Rule("income of three years earlier", "domain §4 (RSVZ/INASTI)", _income_year),
    calculation.BANDS_ADD_UP,
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


DOC_TYPE = DocType(
    "contribution_notice",
    ContributionNoticeEvent,
    retention_years=7,
    key_dates={"due_date": ("payload", "due_date")},  # domain §4: end of the quarter
    payables=single("amount", "due_date"),
    rules=RULES,
)
