"""Annual contribution of companies: flat amount by tier, due 30 June (domain §6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Literal

from pydantic import Field, model_validator

from comms.coherence.base import Rule, time_to_pay
from comms.doctypes.base import DocType, single
from comms.doctypes.parts import (
    AmountDue,
    CompanyRecipient,
    EnterpriseNumber,
    Envelope,
    Money,
    Payment,
    Strict,
    Year,
)


class CompanyContributionNotice(Strict):
    """Annual contribution of companies: flat amount by tier, due 30 June (domain §6)."""

    enterprise_number: EnterpriseNumber
    year: Year
    tier: Literal["standard", "higher"]
    tier_threshold: Money = Field(
        description="The balance-sheet total (euro) above which the higher tier applies; the "
        "letter states it so the company can check its tier (issue 16 §6)."
    )
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


DUE_MONTH, DUE_DAY = 6, 30  # domain §6: due by 30 June


def _due_30_june(p: CompanyContributionNotice, _issued_on: date) -> Iterator[str]:
    if p.due_date != date(p.year, DUE_MONTH, DUE_DAY):
        yield "payload.due_date"


# Coherence: what the letter prints holds together on its date (comms.coherence, docs/letters.md).
RULES = (
    Rule("due 30 June", "domain §6 (annual contribution of companies)", _due_30_june),
    time_to_pay("due_date"),
)

# Law of 26 June 1992, chapter III: the basis and the directors' joint liability (issue 16 §6).
COMPANY_MENTIONS = ("company-legal-basis", "company-directors-liability")

DOC_TYPE = DocType(
    "company_contribution_notice",
    CompanyContributionNoticeEvent,
    mentions=COMPANY_MENTIONS,
    retention_years=7,
    key_dates={"due_date": ("payload", "due_date")},
    payables=single("amount", "due_date"),
    rules=RULES,
)
