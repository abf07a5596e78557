"""Fiscaal attest / attestation fiscale: contributions paid in the year, minus refunds (domain §6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from comms.coherence.base import Rule
from comms.doctypes.base import DocType
from comms.doctypes.parts import Envelope, Money, Quarter, SignedMoney, Strict, Year


class QuarterPaid(Strict):
    """Contributions paid during one quarter of the certificate's year (cash basis)."""

    quarter: Quarter
    amount: Money


class TaxCertificate(Strict):
    """Fiscaal attest / attestation fiscale: contributions paid in the year, minus refunds (domain §6)."""

    year: Year
    paid: Annotated[list[QuarterPaid], Field(min_length=1, max_length=4)]
    refunds: Money = Decimal("0.00")
    deductible_total: SignedMoney

    @model_validator(mode="after")
    def _deductible(self) -> TaxCertificate:
        quarters = [p.quarter for p in self.paid]
        if len(set(quarters)) != len(quarters):
            raise ValueError("each quarter appears at most once")
        total = sum((p.amount for p in self.paid), Decimal("0")) - self.refunds
        if total != self.deductible_total:
            raise ValueError("deductible_total must equal the amounts paid minus the refunds")
        return self


class TaxCertificateEvent(Envelope):
    type: Literal["tax_certificate"]
    payload: TaxCertificate


def _year_ended(p: TaxCertificate, issued_on: date) -> Iterator[str]:
    if issued_on <= date(p.year, 12, 31):
        yield "payload.year"


# Coherence: what the letter prints holds together on its date (comms.coherence, docs/letters.md).
RULES = (
    Rule(
        "year has ended",
        "domain §6: contributions paid in year X (cash basis) are known only once X has ended",
        _year_ended,
    ),
)


DOC_TYPE = DocType(
    "tax_certificate",
    TaxCertificateEvent,
    retention_years=7,
    rules=RULES,
)
