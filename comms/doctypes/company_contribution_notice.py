"""Annual contribution of companies: flat amount by tier, due 30 June (domain §6)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import model_validator

from comms.doctypes.base import DocType, Payable
from comms.doctypes.parts import (
    AmountDue,
    CompanyRecipient,
    EnterpriseNumber,
    Envelope,
    Payment,
    Strict,
    Year,
)


class CompanyContributionNotice(Strict):
    """Annual contribution of companies: flat amount by tier, due 30 June (domain §6)."""

    enterprise_number: EnterpriseNumber
    year: Year
    tier: Literal["standard", "higher"]
    amount: AmountDue
    due_date: date
    payment: Payment


class CompanyContributionNoticeEvent(Envelope):
    type: Literal["company_contribution_notice"]
    payload: CompanyContributionNotice

    @model_validator(mode="after")
    def _company(self) -> CompanyContributionNoticeEvent:
        r = self.recipient
        if not isinstance(r, CompanyRecipient):
            raise ValueError("the company contribution goes to a company recipient")
        if r.enterprise_number != self.payload.enterprise_number:
            raise ValueError("payload.enterprise_number differs from the recipient's")
        return self


def _payables(event: Envelope) -> tuple[Payable, ...]:
    p = event.payload
    assert isinstance(p, CompanyContributionNotice)
    return (Payable(p.amount, p.due_date, p.payment),)


DOC_TYPE = DocType(
    "company_contribution_notice",
    CompanyContributionNoticeEvent,
    retention_years=7,
    key_dates={"due_date": ("payload", "due_date")},
    routing={"order": ["ebox", "email", "post"]},
    payables=_payables,
)
