"""The day a communication is deemed notified, and the rule that gave it (docs/notification.md).

Appeal and objection periods run from this day, so upstream's dossier systems need it. Which rule
applies per channel is the fund's policy, held in settings: only the registered-post rule has a
source in law (art. 53bis Judicial Code); the rest are gaps for legal review, hence configuration.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import Literal

import holidays

from comms.ledger import Entry
from comms.models import BRUSSELS, ChannelName, Status
from comms.settings import Settings

RegisteredBasis = Literal["presentation", "posting"]
EboxBasis = Literal["read", "publication"]


@dataclass(frozen=True)
class Notification:
    """When the member is deemed to have received the letter, and why that day."""

    on: date
    rule: str  # in words, naming the setting and the source, so compliance can check it


@dataclass(frozen=True)
class NotificationPolicy:
    """The fund's rules per channel; built from settings (`COMMS_NOTIFICATION_*`)."""

    post_working_days: int = 3
    registered_basis: RegisteredBasis = "presentation"
    registered_working_days: int = 3
    ebox_basis: EboxBasis = "read"
    ebox_days: int = 0
    email_days: int | None = None  # None: an email alone never notifies
    working_weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})  # Monday = 0

    def deemed(self, rows: Iterable[Entry]) -> Notification | None:
        """The notification of one communication from its ledger rows, or None while unknown."""
        history = list(rows)
        if not history or history[-1].channel is None:
            return None
        if any(e.status.given_up and not _served(e) for e in history):
            return None
        channel = history[-1].channel
        if channel is ChannelName.POST:
            return self._post(history)
        if channel is ChannelName.EBOX:
            return self._ebox(history)
        return self._email(history)

    def _post(self, history: list[Entry]) -> Notification | None:
        registered = any(e.evidence.get("registered") == "true" for e in history)
        if registered and self.registered_basis == "presentation":
            presented = _evidence_date(history, "presented_on")
            if presented is not None:
                return Notification(
                    presented,
                    "registered post: the day the print shop's carrier presented it"
                    " (art. 53bis, 1° Judicial Code)",
                )
        posted = _evidence_date(history, "posted_on")
        if posted is None:
            return None
        days = self.registered_working_days if registered else self.post_working_days
        kind = "registered post" if registered else "post"
        return Notification(
            self.add_working_days(posted, days),
            f"{kind}: working day {days} after posting (art. 53bis, 2° Judicial Code;"
            " COMMS_NOTIFICATION_*_WORKING_DAYS)",
        )

    def _ebox(self, history: list[Entry]) -> Notification | None:
        if self.ebox_basis == "read":
            read = next((e for e in history if e.status is Status.READ), None)
            if read is None:
                return None
            return Notification(
                _local_day(read.at),
                "eBox: the day our read-status poll saw it opened (COMMS_NOTIFICATION_EBOX_BASIS=read)",
            )
        published = next((e for e in history if e.status is Status.DELIVERED), None)
        if published is None:
            return None
        return Notification(
            _local_day(published.at) + timedelta(days=self.ebox_days),
            f"eBox: {self.ebox_days} days after publication"
            " (COMMS_NOTIFICATION_EBOX_BASIS=publication)",
        )

    def _email(self, history: list[Entry]) -> Notification | None:
        if self.email_days is None:
            return None
        sent = next((e for e in history if e.status is Status.DISPATCHED), None)
        if sent is None:
            return None
        return Notification(
            _local_day(sent.at) + timedelta(days=self.email_days),
            f"email: {self.email_days} days after sending (COMMS_NOTIFICATION_EMAIL_DAYS)",
        )

    def add_working_days(self, start: date, days: int) -> date:
        """The `days`-th working day after `start` (Belgian public holidays are not working days)."""
        day = start
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if day.weekday() in self.working_weekdays and day not in _belgian_holidays(day.year):
                counted += 1
        return day


def _served(entry: Entry) -> bool:
    """A letter refused or not collected went to the right address: it counts as served.

    Any other return, a bounce, a failure or a fallback was never received: nothing to count from.
    """
    return entry.status is Status.RETURNED and entry.evidence.get("return_reason") in _SERVED


_SERVED = frozenset({"refused", "not_collected"})  # channels/post_feedback.py RETURN_REASONS


def _local_day(at: datetime) -> date:
    return at.astimezone(BRUSSELS).date()


def _evidence_date(history: list[Entry], key: str) -> date | None:
    """A print shop's date (`YYYY-MM-DD`, or a timestamp whose date part is the shop's own day)."""
    for entry in reversed(history):
        value = entry.evidence.get(key)
        if value:
            return date.fromisoformat(value[:10])
    return None


@lru_cache(maxsize=16)
def _belgian_holidays(year: int) -> Collection[date]:
    return frozenset(holidays.country_holidays("BE", years=year))


def policy_from_settings(settings: Settings) -> NotificationPolicy:
    return NotificationPolicy(
        post_working_days=settings.notification_post_working_days,
        registered_basis=settings.notification_registered_basis,
        registered_working_days=settings.notification_registered_working_days,
        ebox_basis=settings.notification_ebox_basis,
        ebox_days=settings.notification_ebox_days,
        email_days=settings.notification_email_days,
        working_weekdays=frozenset(settings.notification_working_weekdays),
    )
