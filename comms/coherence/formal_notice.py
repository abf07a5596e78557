"""Coherence rules of the formal notice (ingebrekestelling / mise en demeure)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from comms.coherence import arrears
from comms.coherence.base import Rule, add_months
from comms.doctypes.formal_notice import FormalNotice

CONTEST_MONTHS = 1  # art. 46 RD 19-12-1967: the member may contest within one month (domain §4)


def _time_to_contest(p: FormalNotice, issued_on: date) -> Iterator[str]:
    if p.deadline < add_months(issued_on, CONTEST_MONTHS):
        yield "payload.deadline"


RULES = (
    Rule(
        "deadline leaves the month to contest",
        "art. 46 RD 19 December 1967 (domain §4): one month to contest by registered letter",
        _time_to_contest,
    ),
    Rule(
        "debts are overdue",
        "a formal notice lists debts whose due date has passed",
        arrears.overdue,
    ),
    Rule(
        "surcharges by the rules",
        "domain §4 (3 % each quarter end, 7 % on 1 January) and §6 (companies: 1 % a month)",
        arrears.surcharges_by_the_rules,
    ),
    Rule(
        "one reference per debt",
        "domain §2 (Febelfin; CODA reconciliation)",
        arrears.one_reference_per_debt,
    ),
)
