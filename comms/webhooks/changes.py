"""What upstream is told of one ledger row: its change type and a payload without personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any

from comms.ledger import Entry
from comms.models import Status
from comms.notification import Notification


class ChangeType(str, Enum):
    """A state change upstream may subscribe to, by the name it uses (docs/webhooks.md)."""

    ACCEPTED = "accepted"  # validated and in the log
    REJECTED = "rejected"  # broke the contract; kept with field errors
    REFUSED = "refused"  # our templates could not make a lawful letter of it
    SENT = "sent"  # a channel took it
    DELIVERED = "delivered"  # it reached the box or the door
    READ = "read"  # opened in the eBox
    BOUNCED = "bounced"  # the email came back for good
    RETURNED = "returned"  # the letter came back
    FAILED = "failed"  # a channel refused it for good
    FALLBACK = "fallback"  # another channel takes over


# `routed` and `rendered` are the pipeline's own steps and are not reported.
_TYPE_OF_STATUS: dict[Status, ChangeType] = {
    Status.ACCEPTED: ChangeType.ACCEPTED,
    Status.REJECTED: ChangeType.REJECTED,
    Status.REFUSED: ChangeType.REFUSED,
    Status.DISPATCHED: ChangeType.SENT,
    Status.PUBLISHED_NO_ID: ChangeType.SENT,  # in the eBox, its message id lost: `status` says so
    Status.DELIVERED: ChangeType.DELIVERED,
    Status.READ: ChangeType.READ,
    Status.BOUNCED: ChangeType.BOUNCED,
    Status.RETURNED: ChangeType.RETURNED,
    Status.FAILED: ChangeType.FAILED,
    Status.SUPERSEDED: ChangeType.FALLBACK,
}
CHANGE_TYPES: tuple[str, ...] = tuple(t.value for t in ChangeType)
REPORTED_STATUSES: tuple[Status, ...] = tuple(_TYPE_OF_STATUS)
# A notification date can become known only once a channel holds the message (notification.py).
NOTIFYING_TYPES = frozenset(t for s, t in _TYPE_OF_STATUS.items() if s.handed_over)


@dataclass(frozen=True)
class Change:
    """One reported state change; `seq` orders all changes and is the feed's cursor."""

    seq: int
    type: ChangeType
    event_id: str
    doc_type: str | None
    communication_id: str | None
    channel: str | None
    status: str
    at: datetime
    reason: str | None
    notification: Notification | None

    @property
    def event_type(self) -> str:
        """The Standard Webhooks `type`: `event.*` before a channel is involved, else `communication.*`."""
        scope = "communication" if self.communication_id else "event"
        return f"{scope}.{self.type.value}"

    def as_data(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "change": self.type.value,
            "event_id": self.event_id,
            "doc_type": self.doc_type,
            "communication_id": self.communication_id,
            "channel": self.channel,
            "status": self.status,
            "at": self.at.isoformat(),
            "reason": self.reason,
            "notified_on": self.notification.on.isoformat() if self.notification else None,
            "notification_rule": self.notification.rule if self.notification else None,
        }


def change_type(status: Status) -> ChangeType | None:
    return _TYPE_OF_STATUS.get(status)


def change_of(entry: Entry, notification: Notification | None = None) -> Change | None:
    """The change a ledger row reports, or None for the pipeline's internal steps."""
    kind = change_type(entry.status)
    if kind is None:
        return None
    return Change(
        seq=entry.seq,
        type=kind,
        event_id=entry.event_id,
        doc_type=entry.doc_type,
        communication_id=entry.communication_id,
        channel=entry.channel.value if entry.channel else None,
        status=entry.status.value,
        at=entry.at,
        reason=entry.reason,
        notification=notification,
    )
