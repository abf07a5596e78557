"""Where an event stands, read from its ledger rows: one answer for the API, the sweeper and the worker."""

from __future__ import annotations

from collections.abc import Sequence
from enum import Enum

from comms.ledger.records import Entry
from comms.models import Status


class Standing(str, Enum):
    """An event's position as a whole, from the latest rows of the event and its communications."""

    REJECTED = "rejected"  # the input broke the contract
    REFUSED = "refused"  # our templates could not make a lawful letter
    DEAD_LETTER = "dead_letter"  # no channel left, or quarantined: an operator decides
    IN_PROGRESS = "in_progress"  # a worker has more to do
    SENT = "sent"  # a channel holds the letter
    NOT_DELIVERED = "not_delivered"  # every channel gave up (bounced, returned) after a hand-over


def needs_work(latest: Entry) -> bool:
    """A worker has more to do for this event; `failed` on one channel means a fallback is due."""
    if latest.status.waiting:
        return True
    return latest.status is Status.FAILED and latest.communication_id is not None


def is_dead_letter(latest: Entry) -> bool:
    """An event-level `failed` row: no channel left, or quarantined; an operator decides."""
    return latest.status is Status.FAILED and latest.communication_id is None


def latest_per_communication(history: Sequence[Entry]) -> dict[str, Entry]:
    """Each communication's latest row, in the order the communications began."""
    latest: dict[str, Entry] = {}
    for entry in history:
        if entry.communication_id is not None:
            latest[entry.communication_id] = entry
    return latest


def standing(history: Sequence[Entry]) -> Standing:
    """Where the event stands; `history` is every row of it, oldest first, and not empty."""
    latest = history[-1]
    if latest.status is Status.REJECTED:
        return Standing.REJECTED
    if any(e.status is Status.REFUSED for e in history):
        return Standing.REFUSED
    if is_dead_letter(latest):
        return Standing.DEAD_LETTER
    if needs_work(latest):
        return Standing.IN_PROGRESS
    if any(e.status.handed_over for e in latest_per_communication(history).values()):
        return Standing.SENT
    return Standing.NOT_DELIVERED
