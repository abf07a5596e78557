"""Dead letters: a notice no channel took is listed, shown, retried by an operator, then delivered."""

from __future__ import annotations

from channels.base import Channel
from comms.app import build_app, build_channels
from comms.models import ChannelName, Status
from comms.queue import Queue
from comms.service.deliver import Deliverer
from comms.service.guard import Guard
from comms.service.intake import Intake
from comms.service.jobs import BULK_QUEUE
from tests.commands import Ran, comms_process
from tests.commands import comms as run
from tests.service.conftest import REPO, WORKERS_A, Stack, event

pytestmark = [WORKERS_A]

EVENT_ID = "dead-letter-0001"


def comms(stack: Stack, *args: str) -> Ran:
    """An operator's command on this stack's settings."""
    return run(REPO, *args, env=stack.env())


async def make_dead_letter(stack: Stack) -> None:
    """Email refused for good and no post channel configured: nothing is left to try."""
    email: dict[ChannelName, Channel] = {
        ChannelName.EMAIL: build_channels(stack.settings)[ChannelName.EMAIL]
    }
    app = build_app(stack.settings, channels=email)
    queue = Queue.from_settings(stack.settings)
    try:
        await Intake(app, queue).take(
            event("contribution-notice-nl", EVENT_ID), source="t", door="python"
        )
        stack.emb.smtp.fail_next("550 5.1.1 {address}: mailbox unknown", stage="rcpt")
        async with app:
            verdict = await Deliverer(app, Guard(queue.redis), stack.settings)(EVENT_ID, 1)
        assert verdict == "failed"
        await queue.redis.delete(BULK_QUEUE)  # the job ran here, not in a worker
    finally:
        await queue.close()


async def test_an_operator_lists_shows_and_retries_a_dead_letter(stack: Stack) -> None:
    await make_dead_letter(stack)
    assert stack.ledger.history(EVENT_ID)[-1].reason.startswith("no channel left")  # type: ignore[union-attr]

    listing = comms(stack, "dlq", "list")
    assert listing.returncode == 0 and EVENT_ID in listing.stdout
    assert "no channel left" in listing.stdout
    shown = comms(stack, "dlq", "show", EVENT_ID)
    assert "smtp_code=550" in shown.stdout and "an.peeters" not in shown.stdout

    retried = comms(stack, "dlq", "retry", EVENT_ID, "--actor", "ops-jan")
    assert retried.returncode == 0, retried.stderr
    assert "queued" in retried.stdout
    routed = [e for e in stack.ledger.history(EVENT_ID) if e.reason == "operator retry by ops-jan"]
    assert {e.channel.value for e in routed if e.channel} == {"email", "post"}
    assert "not dead" in comms(stack, "dlq", "retry", EVENT_ID).stderr  # not twice

    # A worker (all channels, the SMTP server healthy again) delivers it by email, once.
    done = comms_process(REPO, "worker", "--burst", env=stack.env())  # a real worker process
    assert done.returncode == 0, done.stdout[-2000:]
    assert stack.sent_by_channel()[EVENT_ID] == ["email"]
    assert stack.ledger.history(EVENT_ID)[-1].status is Status.DISPATCHED
    assert len(stack.mail_ids()) == 1
    assert EVENT_ID not in comms(stack, "dlq", "list").stdout
