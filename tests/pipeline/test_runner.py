"""One runner owns retries: the pipeline goes through once, and only the runner's `wait` decides."""

from __future__ import annotations

from datetime import date

import pytest

from channels.base import TransientError
from comms.events import parse_event
from comms.models import ChannelName, Status
from comms.pipeline import DeliveryResult, Outcome
from comms.runner import RetryPolicy, Runner
from comms.samples import load_sample
from tests.fakes import Recording

ISSUED = date(2027, 1, 4)
NOTICE = "contribution-notice-nl"  # email with consent, then post


class Deferring(Runner):
    """The worker's shape: `wait` hands the delay back instead of sleeping (arq's Retry)."""

    def __init__(self, recorded: Recording, policy: RetryPolicy) -> None:
        super().__init__(recorded.app.pipeline, policy)
        self.asked: list[tuple[int, float]] = []

    async def wait(
        self, event_id: str, pending: DeliveryResult, attempt: int, outcome: Outcome
    ) -> bool:
        self.asked.append((attempt, self.policy.delay_s(attempt, pending.retry_after_s)))
        return False


def test_one_backoff_doubles_to_its_ceiling_and_honours_the_channels_hint() -> None:
    policy = RetryPolicy(base_s=30, max_delay_s=100)
    assert [policy.delay_s(n) for n in (1, 2, 3, 4)] == [30, 60, 100, 100]
    assert policy.delay_s(1, hint_s=45) == 45  # an SMTP 4xx or an eBox Retry-After
    assert policy.delay_s(1, hint_s=500) == 100


async def test_a_transient_failure_is_not_retried_inside_the_pipeline(recorded: Recording) -> None:
    """One send, then the runner is asked; a run never sleeps in its job slot."""
    email = recorded.channels[ChannelName.EMAIL]
    email.fail_next(TransientError("451 4.3.0 try again later", retry_after_s=45), count=5)
    runner = Deferring(recorded, RetryPolicy(base_s=30, max_delay_s=1800))

    outcome = await runner.run(parse_event(load_sample(NOTICE)), issued_on=ISSUED)

    assert outcome.pending is not None and outcome.pending.retry_after_s == 45
    assert runner.asked == [(1, 45.0)]
    assert recorded.sent_anywhere() == []
    rows = recorded.app.ledger.history("sample-contribution-notice-nl")
    assert [e.status for e in rows if e.channel is ChannelName.EMAIL] == [Status.ROUTED]
    assert not [e for e in rows if e.channel is ChannelName.POST]  # no fallback on a 4xx


@pytest.mark.parametrize(("failures", "verdict", "sent"), [(2, "sent", 1), (3, "pending", 0)])
async def test_in_process_the_runner_tries_three_times(
    recorded: Recording, failures: int, verdict: str, sent: int
) -> None:
    """The CLI and the demo: a person waits, so three quick tries, then the event stays pending."""
    email = recorded.channels[ChannelName.EMAIL]
    email.fail_next(TransientError("421 4.3.2 service not available"), count=failures)

    outcome = await recorded.app.runner.run(parse_event(load_sample(NOTICE)), issued_on=ISSUED)

    assert outcome.verdict == verdict
    assert len(recorded.sent(ChannelName.EMAIL)) == sent
