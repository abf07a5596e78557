"""Coherence rules per document type, run before a letter is rendered (issue 16, docs/letters.md).

Upstream computes; comms proves that what a letter prints holds together (dates, sums,
references) and refuses it otherwise, naming the rule and the field, never the value.
The registry is one explicit dict, type name → rules; the document-type registry
(`comms.doctypes`) landed on main as this branch ended, so the rules sit here beside it rather than
in each type's module (docs/letters.md).
"""

from __future__ import annotations

from datetime import date

from comms.coherence import (
    account_statement,
    company_contribution_notice,
    contribution_notice,
    decision,
    formal_notice,
    payment_reminder,
    regularisation_notice,
    tax_certificate,
)
from comms.coherence.base import Finding, Rule
from comms.errors import IncoherentLetter
from comms.events import AnyEvent

RULES: dict[str, tuple[Rule, ...]] = {
    "contribution_notice": contribution_notice.RULES,
    "regularisation_notice": regularisation_notice.RULES,
    "payment_reminder": payment_reminder.RULES,
    "formal_notice": formal_notice.RULES,
    "decision": decision.RULES,
    "tax_certificate": tax_certificate.RULES,
    "company_contribution_notice": company_contribution_notice.RULES,
    "account_statement": account_statement.RULES,
}


def findings(event: AnyEvent, issued_on: date) -> list[Finding]:
    """Every rule this letter breaks on its date; empty when it holds together (or when its type
    has no rules yet: a new type adds its own, docs/letters.md)."""
    rules = RULES.get(event.type, ())
    return [f for rule in rules for f in rule.findings(event.payload, issued_on)]


def check(event: AnyEvent, issued_on: date) -> None:
    """Raises IncoherentLetter naming each broken rule and its field."""
    found = findings(event, issued_on)
    if found:
        raise IncoherentLetter([(f.rule, f.field) for f in found])


__all__ = ["RULES", "Finding", "Rule", "check", "findings"]
