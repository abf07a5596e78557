"""Herinnering / rappel: what is open, the surcharges so far, a new deadline, where to get help."""

from __future__ import annotations

from datetime import date
from typing import Literal

from comms.doctypes.base import DocType, Payable
from comms.doctypes.parts import Arrears, Envelope

REMINDER_MENTIONS = ("payment-help",)  # charter: advice on payment plans and exemption


class PaymentReminder(Arrears):
    """Herinnering / rappel: what is open, the surcharges so far, a new deadline, and where to get help."""

    new_deadline: date


class PaymentReminderEvent(Envelope):
    type: Literal["payment_reminder"]
    payload: PaymentReminder


def _payable(event: Envelope) -> Payable | None:
    p = event.payload
    assert isinstance(p, PaymentReminder)
    return Payable(p.total_due, p.new_deadline, p.payment)


DOC_TYPE = DocType(
    "payment_reminder",
    PaymentReminderEvent,
    mentions=REMINDER_MENTIONS,
    retention_years=7,
    key_dates={"new_deadline": ("payload", "new_deadline")},
    routing={"order": ["ebox", "email", "post"]},
    payable=_payable,
)
