"""The document types, one module each, in an explicit registry (like WeasyPrint's PDF variants).

A new type is a module beside these (its payload, event and `DOC_TYPE`), one line below, and its
templates and samples; the event union, the catalogue, settings defaults, reports, retention and
the routing check follow from `DOC_TYPES`.
"""

from __future__ import annotations

from comms.doctypes import (
    account_statement,
    company_contribution_notice,
    contribution_notice,
    decision,
    formal_notice,
    payment_reminder,
    regularisation_notice,
    tax_certificate,
)
from comms.doctypes.base import PAYMENT_MENTIONS, DocType, Payable

DOC_TYPES: dict[str, DocType] = {
    m.DOC_TYPE.name: m.DOC_TYPE
    for m in (
        contribution_notice,
        regularisation_notice,
        payment_reminder,
        formal_notice,
        decision,
        tax_certificate,
        company_contribution_notice,
        account_statement,
    )
}


def types_with_date(name: str) -> tuple[str, ...]:
    """The types that carry the key date `name` (reports: `due_date`, `decision_date`)."""
    return tuple(t.name for t in DOC_TYPES.values() if name in t.key_dates)


__all__ = ["DOC_TYPES", "PAYMENT_MENTIONS", "DocType", "Payable", "types_with_date"]
