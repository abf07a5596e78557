"""Regularisation / régularisation: a year's definitive contributions against the provisional ones
paid, the balance either way (domain §4; issue 16, finding 4)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from comms.doctypes.base import DocType, Payable
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


def _payables(event: Envelope) -> tuple[Payable, ...]:
    p = event.payload
    assert isinstance(p, RegularisationNotice)
    if p.balance <= 0 or p.payment is None or p.due_date is None:
        return ()
    return (Payable(p.balance, p.due_date, p.payment),)


DOC_TYPE = DocType(
    "regularisation_notice",
    RegularisationNoticeEvent,
    retention_years=7,
    key_dates={"due_date": ("payload", "due_date")},  # domain §4: end of the next quarter
    routing={"order": ["ebox", "email", "post"]},
    payables=_payables,
)
