"""Coherence rules of a decision (refusal or recovery): its dates agree with each other."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from comms.coherence.base import Rule, at_least_days_after
from comms.doctypes.decision import Decision

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
