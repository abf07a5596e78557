"""Vervaldagbericht / avis d'échéance: a quarterly provisional contribution."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from comms.doctypes.base import DocType, Payable
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


def _payables(event: Envelope) -> tuple[Payable, ...]:
    p = event.payload
    assert isinstance(p, ContributionNotice)
    return (Payable(p.amount, p.due_date, p.payment),)


DOC_TYPE = DocType(
    "contribution_notice",
    ContributionNoticeEvent,
    retention_years=7,
    key_dates={"due_date": ("payload", "due_date")},  # domain §4: end of the quarter
    routing={"order": ["ebox", "email", "post"]},
    payables=_payables,
)
