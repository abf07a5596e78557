"""What upstream is told of one ledger row: its change type and a payload without personal data."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from comms.ledger import Entry
from comms.models import Status
from comms.notification import Notification

# The states upstream may subscribe to, by the name it uses; `routed` and `rendered` are the
# pipeline's own steps and are not reported.
_TYPE_OF_STATUS: dict[Status, str] = {
    Status.ACCEPTED: "accepted",
    Status.REJECTED: "rejected",
    Status.REFUSED: "refused",
    Status.DISPATCHED: "sent",
    Status.PUBLISHED_NO_ID: "sent",  # in the eBox, its message id lost: `status` says so
    Status.DELIVERED: "delivered",
    Status.READ: "read",
    Status.BOUNCED: "bounced",
    Status.RETURNED: "returned",
    Status.FAILED: "failed",
    Status.SUPERSEDED: "fallback",
}
CHANGE_TYPES: tuple[str, ...] = tuple(_TYPE_OF_STATUS.values())
REPORTED_STATUSES: tuple[Status, ...] = tuple(_TYPE_OF_STATUS)
# A notification date can only become known with one of these (notification.py).
NOTIFYING_TYPES = frozenset({"sent", "delivered", "read"})


@dataclass(frozen=True)
class Change:
    """One reported state change; `seq` orders all changes and is the feed's cursor."""

    seq: int
    type: str
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
        return f"{scope}.{self.type}"

    def as_data(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "change": self.type,
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


def change_type(status: Status) -> str | None:
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
