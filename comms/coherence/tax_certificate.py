"""Coherence rules of the tax certificate (fiscaal attest / attestation fiscale)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from comms.coherence.base import Rule
from comms.doctypes.tax_certificate import TaxCertificate


def _year_ended(p: TaxCertificate, issued_on: date) -> Iterator[str]:
    if issued_on <= date(p.year, 12, 31):
        yield "payload.year"


RULES = (
    Rule(
        "year has ended",
        "domain §6: contributions paid in year X (cash basis) are known only once X has ended",
        _year_ended,
    ),
)
