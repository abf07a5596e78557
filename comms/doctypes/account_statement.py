"""Rekeninguittreksel / extrait de compte: the movements and the balance at a date (charter §4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from comms.coherence.base import Rule, time_to_pay
from comms.doctypes.base import DocType, single
from comms.doctypes.parts import Envelope, Money, Payment, Quarter, SignedMoney, Strict, Year


class Movement(Strict):
    """One line of an account statement; debits raise the balance, credits lower it."""

    booked_on: date
    kind: Literal["contribution", "regularisation", "surcharge", "costs", "payment", "refund"]
    year: Year
    quarter: Quarter | None = None
    debit: Money = Decimal("0.00")
    credit: Money = Decimal("0.00")


class AccountStatement(Strict):
    """Rekeninguittreksel / extrait de compte: the movements and the balance at a date (charter §4).

    A balance due carries a payment block only with a reference covering the whole balance;
    without one, each debt is paid with its own reference from its own letter (domain §2).
    """

    statement_date: date
    opening_balance: SignedMoney
    movements: Annotated[list[Movement], Field(max_length=500)]
    balance: SignedMoney
    pay_by: date | None = None
    payment: Payment | None = None

    @model_validator(mode="after")
    def _balance(self) -> AccountStatement:
        moved = sum((m.debit - m.credit for m in self.movements), Decimal("0"))
        if self.opening_balance + moved != self.balance:
            raise ValueError("balance must equal the opening balance plus debits minus credits")
        if (self.payment is None) != (self.pay_by is None):
            raise ValueError("pay_by and payment come together")
        return self


class AccountStatementEvent(Envelope):
    type: Literal["account_statement"]
    payload: AccountStatement


def _statement_not_ahead(p: AccountStatement, issued_on: date) -> Iterator[str]:
    if p.statement_date > issued_on:
        yield "payload.statement_date"


def _booked_by_statement(p: AccountStatement, _issued_on: date) -> Iterator[str]:
    for i, m in enumerate(p.movements):
        if m.booked_on > p.statement_date:
            yield f"payload.movements.{i}.booked_on"


# Coherence: what the letter prints holds together on its date (comms.coherence, docs/letters.md).
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
    time_to_pay("pay_by"),
)


DOC_TYPE = DocType(
    "account_statement",
    AccountStatementEvent,
    retention_years=7,
    payables=single("balance", "pay_by"),
    rules=RULES,
)
