"""Herinnering / rappel: what is open, the surcharges so far, a new deadline, where to get help."""

from __future__ import annotations

from datetime import date
from typing import Literal

from comms.doctypes.base import DocType, Payable, per_debt
from comms.doctypes.parts import Arrears, Envelope

REMINDER_MENTIONS = ("payment-help",)  # charter: advice on payment plans and exemption


class PaymentReminder(Arrears):
    """Herinnering / rappel: what is open, the surcharges so far, a new deadline, and where to get help."""

    new_deadline: date


class PaymentReminderEvent(Envelope):
    type: Literal["payment_reminder"]
    payload: PaymentReminder


def _payables(event: Envelope) -> tuple[Payable, ...]:
    p = event.payload
    assert isinstance(p, PaymentReminder)
    return per_debt(p, p.new_deadline)


DOC_TYPE = DocType(
    "payment_reminder",
    PaymentReminderEvent,
    mentions=REMINDER_MENTIONS,
    retention_years=7,
    key_dates={"new_deadline": ("payload", "new_deadline")},
    routing={"order": ["ebox", "email", "post"]},
    payables=_payables,
)
