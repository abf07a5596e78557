"""Coherence rules of the payment reminder (herinnering / rappel)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from comms.coherence import arrears
from comms.coherence.base import Rule, at_least_days_after
from comms.doctypes.payment_reminder import PaymentReminder

MIN_DAYS_TO_PAY = 14  # gap: no legal minimum found; two weeks leaves a transfer time to arrive


def _time_to_pay(p: PaymentReminder, issued_on: date) -> Iterator[str]:
    if not at_least_days_after(p.new_deadline, issued_on, MIN_DAYS_TO_PAY):
        yield "payload.new_deadline"


RULES = (
    Rule(
        "time to pay", f"at least {MIN_DAYS_TO_PAY} days after the letter date (gap)", _time_to_pay
    ),
    Rule("debts are overdue", "a reminder lists debts whose due date has passed", arrears.overdue),
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
