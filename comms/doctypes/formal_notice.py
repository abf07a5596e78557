"""Ingebrekestelling / mise en demeure (art. 46 RD 19-12-1967): always by registered post."""

from __future__ import annotations

from datetime import date
from typing import Literal

from comms.doctypes.base import DocType, Payable, per_debt
from comms.doctypes.parts import Arrears, Envelope

# Art. 46 of the royal decree of 19 December 1967 and the charter's personal contact before
# judicial recovery (domain §4).
FORMAL_NOTICE_MENTIONS = ("contest-right", "next-step", "contact-person")


class FormalNotice(Arrears):
    """Ingebrekestelling / mise en demeure (art. 46 RD 19-12-1967): always by registered post."""

    deadline: date
    next_step: Literal["judicial_recovery", "enforcement_order"]


class FormalNoticeEvent(Envelope):
    type: Literal["formal_notice"]
    payload: FormalNotice


def _payables(event: Envelope) -> tuple[Payable, ...]:
    p = event.payload
    assert isinstance(p, FormalNotice)
    return per_debt(p, p.deadline)


DOC_TYPE = DocType(
    "formal_notice",
    FormalNoticeEvent,
    mentions=FORMAL_NOTICE_MENTIONS,
    registered=True,  # art. 46 RD 19 December 1967
    urgent=True,
    retention_years=10,
    key_dates={"deadline": ("payload", "deadline")},
    # Registered eBox (ePost) is not available yet (domain/ebox.md, gap). Registered mail goes to
    # the legal domicile even after returned mail: refusing or not collecting it does not stop it
    # from being served.
    routing={"order": ["post"], "email_attach_document": False, "post_to_flagged_address": True},
    payables=_payables,
)
