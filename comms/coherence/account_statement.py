"""Coherence rules of the account statement (rekeninguittreksel / extrait de compte)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from comms.coherence.base import Rule, at_least_days_after
from comms.doctypes.account_statement import AccountStatement

MIN_DAYS_TO_PAY = 14  # gap: no legal minimum found; two weeks leaves a transfer time to arrive


def _statement_not_ahead(p: AccountStatement, issued_on: date) -> Iterator[str]:
    if p.statement_date > issued_on:
        yield "payload.statement_date"


def _booked_by_statement(p: AccountStatement, _issued_on: date) -> Iterator[str]:
    for i, m in enumerate(p.movements):
        if m.booked_on > p.statement_date:
            yield f"payload.movements.{i}.booked_on"


def _time_to_pay(p: AccountStatement, issued_on: date) -> Iterator[str]:
    if not at_least_days_after(p.pay_by, issued_on, MIN_DAYS_TO_PAY):
        yield "payload.pay_by"


RULES = (
    Rule(
        "balance not in the future",
        "a statement reports a balance at a past or present date",
        _statement_not_ahead,
    ),
    Rule(
        "movements by the statement date",
        "a movement listed was booked by the statement date",
        _booked_by_statement,
    ),
    Rule(
        "time to pay", f"at least {MIN_DAYS_TO_PAY} days after the letter date (gap)", _time_to_pay
    ),
)
