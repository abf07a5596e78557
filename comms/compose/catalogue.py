"""The document types: which mentions each must carry, what is payable, what goes registered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from comms.events import (
    AccountStatement,
    AnyEvent,
    CompanyContributionNotice,
    ContributionNotice,
    Decision,
    FormalNotice,
    Payment,
    PaymentReminder,
)

PAYMENT_MENTIONS = ("payment-amount", "payment-due", "payment-iban", "payment-ogm", "payment-qr")
# Charter of the socially insured (law of 11 April 1995), art. 14: without these the appeal
# period does not start (domain §5).
DECISION_MENTIONS = (
    "reasons-in-fact",
    "reasons-in-law",
    "legal-basis",
    "appeal-court",
    "appeal-court-address",
    "appeal-deadline",
    "appeal-how",
    "art-728",
    "art-1017",
    "file-reference",
    "handling-service",
    "explanations",
)
# Art. 15 of the same charter, for the recovery of unduly paid benefits. A recovery decision is
# also payable (the member repays): it carries the payment block, PAYMENT_MENTIONS, too.
RECOVERY_MENTIONS = (
    "recovery-unduly-paid",
    "recovery-total",
    "recovery-calculation",
    "recovery-provisions",
    "recovery-prescription",
    "recovery-waiver",
    "recovery-instalments",
)
# Art. 46 of the royal decree of 19 December 1967 and the charter's personal contact before
# judicial recovery (domain §4).
FORMAL_NOTICE_MENTIONS = ("contest-right", "next-step", "contact-person")
REMINDER_MENTIONS = ("payment-help",)  # charter: advice on payment plans and exemption


@dataclass(frozen=True)
class Payable:
    """What a payment block and its QR code need, whatever the document type calls the fields."""

    amount: Decimal
    due_date: date
    payment: Payment


@dataclass(frozen=True)
class DocumentType:
    """One kind of letter: its name and the rules that hold for every rendering of it."""

    name: str
    mentions: tuple[str, ...]
    registered: bool = False
    payable: Callable[[AnyEvent], Payable | None] = lambda _event: None
    extra_mentions: Callable[[AnyEvent], tuple[str, ...]] = lambda _event: ()

    def required_mentions(self, event: AnyEvent) -> tuple[str, ...]:
        payment = PAYMENT_MENTIONS if self.payable(event) is not None else ()
        return self.mentions + payment + self.extra_mentions(event)


def _notice(event: AnyEvent) -> Payable | None:
    p = event.payload
    assert isinstance(p, ContributionNotice | CompanyContributionNotice)
    return Payable(p.amount, p.due_date, p.payment)


def _reminder(event: AnyEvent) -> Payable | None:
    p = event.payload
    assert isinstance(p, PaymentReminder)
    return Payable(p.total_due, p.new_deadline, p.payment)


def _formal(event: AnyEvent) -> Payable | None:
    p = event.payload
    assert isinstance(p, FormalNotice)
    return Payable(p.total_due, p.deadline, p.payment)


def _statement(event: AnyEvent) -> Payable | None:
    p = event.payload
    assert isinstance(p, AccountStatement)
    if p.balance <= 0 or p.payment is None or p.pay_by is None:
        return None
    return Payable(p.balance, p.pay_by, p.payment)


def _repayment(event: AnyEvent) -> Payable | None:
    p = event.payload
    assert isinstance(p, Decision)
    r = p.recovery
    return None if r is None else Payable(r.total, r.due_date, r.payment)


def _recovery(event: AnyEvent) -> tuple[str, ...]:
    p = event.payload
    assert isinstance(p, Decision)
    return RECOVERY_MENTIONS if p.kind == "recovery" else ()


CATALOGUE: dict[str, DocumentType] = {
    "contribution_notice": DocumentType("contribution_notice", (), payable=_notice),
    "payment_reminder": DocumentType("payment_reminder", REMINDER_MENTIONS, payable=_reminder),
    "formal_notice": DocumentType(
        "formal_notice", FORMAL_NOTICE_MENTIONS, registered=True, payable=_formal
    ),
    "decision": DocumentType(
        "decision", DECISION_MENTIONS, payable=_repayment, extra_mentions=_recovery
    ),
    "tax_certificate": DocumentType("tax_certificate", ()),
    "company_contribution_notice": DocumentType("company_contribution_notice", (), payable=_notice),
    "account_statement": DocumentType("account_statement", (), payable=_statement),
}
TEMPLATE_FILES = ("letter.html", "email.html", "email.txt", "subject.txt", "ebox_subject.txt")
