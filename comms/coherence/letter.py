"""The check the composer runs before rendering: the rules of the event's document type."""

from __future__ import annotations

from datetime import date

from comms.coherence.base import Finding
from comms.doctypes import DOC_TYPES
from comms.errors import IncoherentLetter
from comms.events import AnyEvent


def findings(event: AnyEvent, issued_on: date) -> list[Finding]:
    """Every rule this letter breaks on its date; empty when it holds together."""
    rules = DOC_TYPES[event.type].rules
    return [f for rule in rules for f in rule.findings(event.payload, issued_on)]


def check(event: AnyEvent, issued_on: date) -> None:
    """Raises IncoherentLetter naming each broken rule and its field."""
    found = findings(event, issued_on)
    if found:
        raise IncoherentLetter([(f.rule, f.field) for f in found])
