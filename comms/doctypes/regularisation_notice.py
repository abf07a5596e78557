"""Regularisation / régularisation: a year's definitive contributions against the provisional ones
paid, the balance either way (domain §4; issue 16, finding 4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from comms.coherence import calculation
from comms.coherence.base import Rule, next_quarter, percent_of, quarter_end, quarter_of
from comms.doctypes.base import DocType, single
from comms.doctypes.parts import (
    Envelope,
    Iban,
    Money,
    Payment,
    SignedMoney,
    Strict,
    Year,
    YearlyCalculation,
)


class Refund(Strict):
    """A balance in the member's favour: the member's account and by when the fund pays it."""

    iban: Iban
    on_or_before: date


class RegularisationNotice(Strict):
    """The definitive contributions of a year once its income is known, against the provisional
    ones paid; a balance due is paid like a notice, a balance in the member's favour refunded."""

    year: Year
    calculation: YearlyCalculation
    management_costs: Money = Decimal("0.00")
    definitive_total: Money
    provisional_paid: Money
    balance: SignedMoney = Field(description="definitive_total - provisional_paid; < 0: a refund.")
    due_date: date | None = None
    payment: Payment | None = None
    refund: Refund | None = None

    @model_validator(mode="after")
    def _balance_either_way(self) -> RegularisationNotice:
        if self.balance > 0 and (self.payment is None or self.due_date is None):
            raise ValueError("a balance due needs due_date and payment")
        if self.balance < 0 and self.refund is None:
            raise ValueError("a balance in the member's favour needs the refund account")
        if self.balance <= 0 and (self.payment is not None or self.due_date is not None):
            raise ValueError("nothing to pay: no due_date or payment")
        if self.balance >= 0 and self.refund is not None:
            raise ValueError("nothing to refund: no refund")
        return self


class RegularisationNoticeEvent(Envelope):
    type: Literal["regularisation_notice"]
    payload: RegularisationNotice


def _income_of_the_year(p: RegularisationNotice, _issued_on: date) -> Iterator[str]:
    if p.calculation.income_year != p.year:
        yield "payload.calculation.income_year"


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


# Coherence: what the letter prints holds together on its date (comms.coherence, docs/letters.md).
RULES = (
    Rule(
        "income of the year itself",
        "domain §4: definitive = on the year's own income",
        _income_of_the_year,
    ),
    calculation.BANDS_ADD_UP,
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


DOC_TYPE = DocType(
    "regularisation_notice",
    RegularisationNoticeEvent,
    retention_years=7,
    key_dates={"due_date": ("payload", "due_date")},  # domain §4: end of the next quarter
    payables=single("balance", "due_date"),
    rules=RULES,
)
