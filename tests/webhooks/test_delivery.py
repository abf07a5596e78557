"""Webhooks reach a real receiver on loopback: signed, in order per event, retried, dead-lettered."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from comms.ledger import Ledger
from comms.models import ChannelName, Status
from comms.webhooks import WebhookStore
from comms.webhooks.dispatcher import Dispatcher
from tests.commands import comms
from tests.ledger.helpers import SECRET
from tests.webhooks.conftest import FAST, Receiver, accept_from, run_until


def letter_by_post(ledger: Ledger, event_id: str, producer: str = "upstream") -> None:
    """One event accepted and posted: accepted, routed, rendered, sent, delivered."""
    accept_from(ledger, event_id, producer)
    cid = f"{event_id}:post"
    for status, evidence in (
        (Status.ROUTED, {}),
        (Status.RENDERED, {}),
        (Status.DISPATCHED, {"registered": "false"}),
        (Status.DELIVERED, {"posted_on": "2026-12-04"}),
    ):
        ledger.record(
            event_id=event_id,
            status=status,
            communication_id=cid,
            channel=ChannelName.POST,
            evidence=evidence,
        )


async def test_every_message_verifies_with_the_standard_webhooks_library(
    ledger: Ledger, store: WebhookStore, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    _, secret = store.register("upstream", receiver.url, ["accepted", "sent", "delivered"])
    letter_by_post(ledger, "e-1")
    await run_until(dispatcher, lambda: len(receiver.got) == 3)
    verifier = Webhook(secret)
    bodies = [verifier.verify(r.body, r.headers) for r in receiver.got]
    assert [b["type"] for b in bodies] == [
        "event.accepted", "communication.sent", "communication.delivered",
    ]  # fmt: skip
    assert bodies[-1]["data"]["notified_on"] == "2026-12-09"  # 3rd working day after posting
    assert len({r.headers["webhook-id"] for r in receiver.got}) == 3


async def test_a_receiver_down_for_a_while_gets_everything_in_order_once_back(
    ledger: Ledger, store: WebhookStore, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    store.register("upstream", receiver.url, ["accepted", "sent", "delivered"])
    receiver.stop()
    for n in range(5):
        letter_by_post(ledger, f"e-{n}")
    for _ in range(3):  # attempts fail while it is down
        await dispatcher.round()
        await asyncio.sleep(0.03)
    assert store.messages(state="dead") == []
    receiver.start()  # the same port again
    await run_until(dispatcher, lambda: len(receiver.got) == 15)
    await dispatcher.drain()
    per_event: dict[str, list[int]] = {}
    for r in receiver.got:
        data = r.json["data"]
        per_event.setdefault(data["event_id"], []).append(data["seq"])
    assert all(seqs == sorted(seqs) and len(seqs) == 3 for seqs in per_event.values())
    assert len({r.headers["webhook-id"] for r in receiver.got}) == 15


async def test_a_receiver_failing_for_good_ends_in_dead_letters_an_operator_replays(
    ledger: Ledger,
    store: WebhookStore,
    dispatcher: Dispatcher,
    receiver: Receiver,
    db_url: str,
    monkeypatch: object,
    tmp_path: Path,
) -> None:
    endpoint, _ = store.register("upstream", receiver.url, ["accepted"])
    receiver.status = 500
    letter_by_post(ledger, "e-1")
    await run_until(dispatcher, lambda: len(store.messages(state="dead")) == 1)
    (dead,) = store.messages(state="dead")
    assert dead.attempts == len(FAST.retry_schedule_s) + 1 and dead.last_error == "HTTP 500"

    receiver.status = 200
    env = {"COMMS_DATABASE_URL": db_url, "COMMS_HMAC_SECRET": SECRET}
    listed = comms(tmp_path, "webhooks", "dead", env=env)
    assert listed.returncode == 0 and dead.id in listed.stdout
    replayed = comms(tmp_path, "webhooks", "replay", "--endpoint", endpoint.id, env=env)
    assert replayed.returncode == 0, replayed.stderr
    assert "1 message(s) queued again" in replayed.stdout
    await run_until(dispatcher, lambda: len(receiver.got) == 1)
    assert receiver.got[0].headers["webhook-id"] == dead.id


async def test_one_slow_receiver_does_not_hold_back_another(
    ledger: Ledger, store: WebhookStore, receiver: Receiver
) -> None:
    slow = Receiver(delay_s=1.5)
    slow.start()
    try:
        store.register("upstream", slow.url, ["accepted"])
        store.register("upstream", receiver.url, ["accepted"])
        for n in range(8):
            accept_from(ledger, f"e-{n}", "upstream")
        dispatcher = Dispatcher(store, FAST)
        started = time.monotonic()
        try:
            await run_until(dispatcher, lambda: len(receiver.got) == 8)
            fast_done_s = time.monotonic() - started
            assert fast_done_s < 1.5  # the slow one has not answered its first request yet
            assert len(slow.got) == 0
            await run_until(dispatcher, lambda: len(slow.got) == 8, timeout_s=30)
        finally:
            await dispatcher.close()
    finally:
        slow.stop()


async def test_a_producer_hears_only_of_its_own_events(
    ledger: Ledger, store: WebhookStore, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    store.register("upstream", receiver.url, ["accepted"])
    accept_from(ledger, "mine", "upstream")
    accept_from(ledger, "theirs", "another-producer")
    await run_until(dispatcher, lambda: len(receiver.got) == 1)
    await dispatcher.drain()
    assert [r.json["data"]["event_id"] for r in receiver.got] == ["mine"]


async def test_an_endpoint_hears_only_of_what_happens_after_it_registered(
    ledger: Ledger, store: WebhookStore, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    accept_from(ledger, "before", "upstream")
    store.register("upstream", receiver.url, ["accepted"])
    accept_from(ledger, "after", "upstream")
    await run_until(dispatcher, lambda: len(receiver.got) == 1)
    await dispatcher.drain()
    assert [r.json["data"]["event_id"] for r in receiver.got] == ["after"]
