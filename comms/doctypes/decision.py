"""A refusal or a recovery, with its reasons in fact and in law and the appeal information."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field, model_validator

from comms.coherence.base import Rule, at_least_days_after
from comms.doctypes.base import DocType, Payable
from comms.doctypes.parts import (
    AmountDue,
    Contact,
    Envelope,
    Payment,
    PostalAddress,
    ShortText,
    SignedMoney,
    Strict,
    Text,
    field_rule_error,
)

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
    "recovery-appeal-effect",  # issue 16 §6: whether an appeal suspends the recovery
)


class CalculationLine(Strict):
    """One line of how a recovered amount was computed."""

    label: ShortText
    amount: SignedMoney


class Recovery(Strict):
    """What art. 15 of the charter of the socially insured requires of a recovery decision, and
    what the member needs to repay: the account, the structured communication and the date."""

    total: AmountDue
    calculation: Annotated[list[CalculationLine], Field(min_length=1, max_length=50)]
    period_from: date
    period_to: date
    provisions_breached: Annotated[list[Text], Field(min_length=1, max_length=20)]
    prescription_years: Annotated[int, Field(ge=1, le=30)]
    instalments_possible: bool = True
    due_date: date = Field(
        description="The date by which the total must be on the fund's account; "
        "not before the decision date."
    )
    payment: Payment = Field(
        description="The account to repay to and this recovery's one structured communication."
    )

    @model_validator(mode="after")
    def _total_matches(self) -> Recovery:
        if sum((line.amount for line in self.calculation), Decimal("0")) != self.total:
            raise ValueError("total must equal the sum of the calculation lines")
        if self.period_to < self.period_from:
            raise ValueError("period_to lies before period_from")
        return self


class Court(Strict):
    """The competent labour court and where to file the appeal."""

    name: ShortText
    address: PostalAddress


class Appeal(Strict):
    """Art. 14 of the charter of the socially insured: without these the appeal period does not start."""

    court: Court
    deadline_months: Annotated[int, Field(ge=3, le=12)]
    file_reference: ShortText
    handling_service: ShortText
    explanations: Contact


class Decision(Strict):
    """A refusal or a recovery, with its reasons in fact and in law and the appeal information."""

    kind: Literal["refusal", "recovery"]
    decision_date: date
    subject: ShortText
    outcome: Text
    reasons_in_fact: Annotated[list[Text], Field(min_length=1, max_length=20)]
    reasons_in_law: Annotated[list[Text], Field(min_length=1, max_length=20)]
    legal_basis: Annotated[list[ShortText], Field(min_length=1, max_length=20)]
    request_received_on: date | None = Field(
        None, description="When the member's request reached the fund, if the decision answers one."
    )
    recovery: Recovery | None = None
    appeal: Appeal

    @model_validator(mode="after")
    def _recovery_details(self) -> Decision:
        if self.kind == "recovery" and self.recovery is None:
            raise ValueError("a recovery decision needs its recovery details (charter art. 15)")
        if self.kind == "refusal" and self.recovery is not None:
            raise ValueError("a refusal carries no recovery details")
        if self.recovery is not None and self.recovery.due_date < self.decision_date:
            raise field_rule_error(
                "Decision", ("recovery", "due_date"), "due_date lies before the decision_date"
            )
        return self


class DecisionEvent(Envelope):
    type: Literal["decision"]
    payload: Decision


def _repayment(event: Envelope) -> tuple[Payable, ...]:
    p = event.payload
    assert isinstance(p, Decision)
    r = p.recovery
    return () if r is None else (Payable(r.total, r.due_date, r.payment),)


def _recovery(event: Envelope) -> tuple[str, ...]:
    p = event.payload
    assert isinstance(p, Decision)
    return RECOVERY_MENTIONS if p.kind == "recovery" else ()


def _file_reference(event: Envelope) -> str:
    p = event.payload
    assert isinstance(p, Decision)
    return p.appeal.file_reference  # charter art. 14, 5°: the reference the appeal quotes


MIN_DAYS_TO_REPAY = 30  # gap: no legal minimum found; legal review (docs/letters.md)


def _taken_before_notified(p: Decision, issued_on: date) -> Iterator[str]:
    if p.decision_date > issued_on:
        yield "payload.decision_date"


def _request_before_decision(p: Decision, _issued_on: date) -> Iterator[str]:
    if p.request_received_on is not None and p.request_received_on > p.decision_date:
        yield "payload.request_received_on"


def _period_before_decision(p: Decision, _issued_on: date) -> Iterator[str]:
    if p.recovery is not None and p.recovery.period_to > p.decision_date:
        yield "payload.recovery.period_to"


def _time_to_repay(p: Decision, issued_on: date) -> Iterator[str]:
    if p.recovery is not None and not at_least_days_after(
        p.recovery.due_date, issued_on, MIN_DAYS_TO_REPAY
    ):
        yield "payload.recovery.due_date"


# Coherence: what the letter prints holds together on its date (comms.coherence, docs/letters.md).
RULES = (
    Rule(
        "decided before notified",
        "a letter reports its decision as taken: decision date on or before the letter date",
        _taken_before_notified,
    ),
    Rule(
        "request before decision",
        "a decision answers a request already received",
        _request_before_decision,
    ),
    Rule(
        "recovered period before decision",
        "charter art. 15: the unduly paid period lies before the decision",
        _period_before_decision,
    ),
    Rule(
        "time to repay",
        f"at least {MIN_DAYS_TO_REPAY} days after the letter date (gap)",
        _time_to_repay,
    ),
)


DOC_TYPE = DocType(
    "decision",
    DecisionEvent,
    mentions=DECISION_MENTIONS,
    urgent=True,  # the appeal period starts with it
    retention_years=10,
    key_dates={"decision_date": ("payload", "decision_date")},  # charter art. 14
    # Charter art. 14: the appeal period starts only with a provable notification of the decision.
    routing={
        "order": ["ebox", "post"],
        "never": ["email"],
        "legal": "a decision starts the appeal period: eBox or paper only",
        "email_attach_document": False,
        # Without its message id, the reading of a decision can never be proven: paper.
        "fallback": {"published_no_id": ["post"]},
    },
    payables=_repayment,
    extra_mentions=_recovery,
    reference=_file_reference,
    rules=RULES,
)
