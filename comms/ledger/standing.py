"""Where an event stands, read from its ledger rows: one answer for the API, the sweeper and the worker."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import sqlalchemy as sa

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


@dataclass(frozen=True)
class LatestRowTest:
    """A test of an event's latest row, written once and read two ways: on an `Entry` (the
    worker, the intake, the API) and as SQL on `entries` (the sweeper's scan, the dead letters),
    so the two can never disagree."""

    statuses: frozenset[Status] = frozenset()  # on any row
    channel_statuses: frozenset[Status] = frozenset()  # on a communication's row only
    event_statuses: frozenset[Status] = frozenset()  # on an event-level row only

    def __call__(self, latest: Entry) -> bool:
        by_level = self.event_statuses if latest.communication_id is None else self.channel_statuses
        return latest.status in self.statuses or latest.status in by_level

    def where(self, rows: sa.FromClause) -> sa.ColumnElement[bool]:
        """The same test as a condition on the columns of `rows` (the `entries` table or an alias)."""
        c = rows.c
        levels = (
            (self.statuses, sa.true()),
            (self.channel_statuses, c.communication_id.is_not(None)),
            (self.event_statuses, c.communication_id.is_(None)),
        )
        return sa.or_(
            sa.false(),
            *(
                sa.and_(c.status.in_(sorted(s.value for s in among)), level)
                for among, level in levels
                if among
            ),
        )


# A worker has more to do for this event; `failed` on one channel means a fallback is due.
needs_work = LatestRowTest(
    statuses=frozenset(s for s in Status if s.waiting), channel_statuses=frozenset({Status.FAILED})
)

# An event-level `failed` row: no channel left, or quarantined; an operator decides.
is_dead_letter = LatestRowTest(event_statuses=frozenset({Status.FAILED}))


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
