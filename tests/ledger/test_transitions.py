"""The delivery state machine: one table (comms.models.TRANSITIONS), enforced where rows are added."""

from __future__ import annotations

import pytest

from comms.ledger import IllegalTransition, Ledger
from comms.models import TRANSITIONS, ChannelName, Status
from tests.ledger.helpers import accept


def _reachable() -> set[Status]:
    seen: set[Status] = set()
    todo = list(TRANSITIONS[None])
    while todo:
        status = todo.pop()
        if status not in seen:
            seen.add(status)
            todo.extend(TRANSITIONS[status])
    return seen


def test_every_state_has_a_row_and_can_be_reached() -> None:
    """No state is forgotten by the table, and none is unreachable from a new event."""
    assert set(TRANSITIONS) == {None, *Status}
    assert _reachable() == set(Status)


def test_predicates_agree_with_the_table() -> None:
    """A final or handed-over state never goes back to waiting for a worker's first send."""
    assert not TRANSITIONS[Status.READ] and not TRANSITIONS[Status.REFUSED]
    assert {s for s in Status if s.handed_over} < {s for s in Status if s.ever_handed_over}
    assert {s for s in Status if s.retryable} < {s for s in Status if s.given_up}
    for status in Status:
        if status.handed_over:
            assert Status.ROUTED not in TRANSITIONS[status]  # never sent again on its own
        if status.given_up:  # only the recipient opening it after all
            assert {s for s in TRANSITIONS[status] if s.handed_over} <= {Status.READ}


def test_a_letter_walks_the_table_and_a_stale_fact_is_refused(ledger: Ledger) -> None:
    """eBox: routed, delivered, read; then a late "printed" for the same message is not recorded."""
    accept(ledger, "evt-sm-0001")
    for status in (Status.ROUTED, Status.DELIVERED, Status.READ):
        ledger.record(
            event_id="evt-sm-0001", status=status, communication_id="c-1", channel=ChannelName.EBOX
        )
    with pytest.raises(IllegalTransition, match="dispatched does not follow read"):
        ledger.record(
            event_id="evt-sm-0001",
            status=Status.DISPATCHED,
            communication_id="c-1",
            channel=ChannelName.EBOX,
        )
    assert [e.status for e in ledger.history("evt-sm-0001")] == [
        Status.ACCEPTED,
        Status.ROUTED,
        Status.DELIVERED,
        Status.READ,
    ]


def test_a_communication_starts_routed_and_keeps_to_its_scope(ledger: Ledger) -> None:
    """No hand-over without the routing decision before it; event states carry no channel."""
    accept(ledger, "evt-sm-0002")
    with pytest.raises(IllegalTransition, match="does not follow nothing"):
        ledger.record(event_id="evt-sm-0002", status=Status.DISPATCHED, communication_id="c-2")
    with pytest.raises(IllegalTransition, match="state of an event"):
        ledger.record(event_id="evt-sm-0002", status=Status.RENDERED, communication_id="c-2")
    with pytest.raises(IllegalTransition, match="state of a communication"):
        ledger.record(event_id="evt-sm-0002", status=Status.ROUTED)
    ledger.record(event_id="evt-sm-0002", status=Status.REFUSED, reason="no French template")
    with pytest.raises(IllegalTransition, match="rendered does not follow refused"):
        ledger.record(event_id="evt-sm-0002", status=Status.RENDERED)
    assert [e.status for e in ledger.history("evt-sm-0002")] == [Status.ACCEPTED, Status.REFUSED]


def test_an_event_level_dead_letter_may_be_retried(ledger: Ledger) -> None:
    """failed (no channel left) → an operator's retry routes the channel again → failed again."""
    accept(ledger, "evt-sm-0003")
    ledger.record(event_id="evt-sm-0003", status=Status.RENDERED)
    ledger.record(event_id="evt-sm-0003", status=Status.ROUTED, communication_id="c-3")
    ledger.record(event_id="evt-sm-0003", status=Status.FAILED, communication_id="c-3")
    ledger.record(event_id="evt-sm-0003", status=Status.FAILED, reason="no channel left")
    ledger.record(event_id="evt-sm-0003", status=Status.ROUTED, communication_id="c-3")
    ledger.record(event_id="evt-sm-0003", status=Status.FAILED, communication_id="c-3")
    ledger.record(event_id="evt-sm-0003", status=Status.FAILED, reason="no channel left")
    assert ledger.history("evt-sm-0003")[-1].status is Status.FAILED
