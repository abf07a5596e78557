"""Ingebrekestelling / mise en demeure (art. 46 RD 19-12-1967): always by registered post."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Literal

from comms.coherence import arrears
from comms.coherence.base import Rule, add_months
from comms.doctypes.base import DocType, per_debt
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


CONTEST_MONTHS = 1  # art. 46 RD 19-12-1967: the member may contest within one month (domain §4)


def _time_to_contest(p: FormalNotice, issued_on: date) -> Iterator[str]:
    if p.deadline < add_months(issued_on, CONTEST_MONTHS):
        yield "payload.deadline"


# Coherence: what the letter prints holds together on its date (comms.coherence, docs/letters.md).
RULES = (
    Rule(
        "deadline leaves the month to contest",
        "art. 46 RD 19 December 1967 (domain §4): one month to contest by registered letter",
        _time_to_contest,
    ),
    *arrears.RULES,
)


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
    payables=per_debt("deadline"),
    rules=RULES,
)
