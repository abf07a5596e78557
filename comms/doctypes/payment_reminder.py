"""Herinnering / rappel: what is open, the surcharges so far, a new deadline, where to get help."""

from __future__ import annotations

from datetime import date
from typing import Literal

from comms.coherence import arrears
from comms.coherence.base import time_to_pay
from comms.doctypes.base import DocType, per_debt
from comms.doctypes.parts import Arrears, Envelope

REMINDER_MENTIONS = ("payment-help",)  # charter: advice on payment plans and exemption


class PaymentReminder(Arrears):
    """Herinnering / rappel: what is open, the surcharges so far, a new deadline, and where to get help."""

    new_deadline: date


class PaymentReminderEvent(Envelope):
    type: Literal["payment_reminder"]
    payload: PaymentReminder


# Coherence: what the letter prints holds together on its date (comms.coherence, docs/letters.md).
RULES = (
    time_to_pay("new_deadline"),
    *arrears.RULES,
)


DOC_TYPE = DocType(
    "payment_reminder",
    PaymentReminderEvent,
    mentions=REMINDER_MENTIONS,
    retention_years=7,
    key_dates={"new_deadline": ("payload", "new_deadline")},
    payables=per_debt("new_deadline"),
    rules=RULES,
)
