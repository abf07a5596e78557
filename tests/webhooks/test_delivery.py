"""Webhooks reach a real receiver on loopback: signed, in order per event, retried, dead-lettered."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from pathlib import Path

from standardwebhooks.webhooks import Webhook

from comms.ledger import Ledger
from comms.models import ChannelName, Status, producer_source
from comms.webhooks import WebhookStore
from comms.webhooks.dispatcher import Dispatcher
from tests.commands import comms
from tests.ledger.helpers import SECRET
from tests.webhooks.conftest import FAST, Receiver, accept_from, run_until


def letter_by_post(ledger: Ledger, event_id: str, producer: str = "upstream") -> None:
    """One event accepted and posted: accepted, routed, rendered, sent, delivered."""
    accept_from(ledger, event_id, producer)
    letter_rows_after_acceptance(ledger, event_id)


def letter_rows_after_acceptance(ledger: Ledger, event_id: str) -> None:
    cid = f"{event_id}:post"
    for status, evidence in (
        (Status.ROUTED, {}),
        (Status.RENDERED, {}),
        (Status.DISPATCHED, {"registered": "false"}),
        (Status.DELIVERED, {"posted_on": "2026-12-04"}),
    ):
        own = status is not Status.RENDERED  # the document is the event's, not the channel's
        ledger.record(
            event_id=event_id,
            status=status,
            communication_id=cid if own else None,
            channel=ChannelName.POST if own else None,
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
    hung = threading.Event()
    slow = Receiver(gate=hung)  # answers nothing until the test lets it
    slow.start()
    try:
        store.register("upstream", slow.url, ["accepted"])
        store.register("upstream", receiver.url, ["accepted"])
        for n in range(8):
            accept_from(ledger, f"e-{n}", "upstream")
        dispatcher = Dispatcher(store, FAST)
        try:
            await run_until(dispatcher, lambda: len(receiver.got) == 8 and slow.arrived >= 1)
            # the slow receiver holds a request unanswered while the other got everything
            assert slow.got == [] and len(receiver.got) == 8
            hung.set()
            await run_until(dispatcher, lambda: len(slow.got) == 8, timeout_s=30)
        finally:
            await dispatcher.close()
    finally:
        hung.set()
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


async def test_a_rejection_under_an_id_does_not_make_its_sender_the_events_owner(
    ledger: Ledger, store: WebhookStore, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    """Another producer sends a bad input under an id; the real sender's event stays its own."""
    store.register("upstream", receiver.url, ["accepted", "sent", "delivered"])
    intruder = Receiver()
    intruder.start()
    try:
        store.register("intruder", intruder.url, ["rejected", "accepted", "sent", "delivered"])
        ledger.reject(source=producer_source("intruder"), raw="{}", errors=[], event_id="e-1")
        letter_by_post(ledger, "e-1")
        await run_until(dispatcher, lambda: len(receiver.got) == 3)
        await dispatcher.drain()
        assert [r.json["data"]["change"] for r in intruder.got] == ["rejected"]
        assert [c.type for c in store.changes("intruder", after=0, limit=100)] == ["rejected"]
        assert [c.type for c in store.changes("upstream", after=0, limit=100)] == [
            "accepted", "sent", "delivered",
        ]  # fmt: skip
    finally:
        intruder.stop()


async def test_no_message_goes_to_a_private_address_unless_allowed(
    ledger: Ledger, store: WebhookStore, receiver: Receiver
) -> None:
    store.register("upstream", receiver.url, ["accepted"])
    letter_by_post(ledger, "e-1")
    strict = Dispatcher(store, dataclasses.replace(FAST, allow_private_targets=False))
    try:
        await run_until(strict, lambda: bool(store.messages(state="dead")))
    finally:
        await strict.close()
    assert receiver.got == []
    (dead,) = store.messages(state="dead")
    assert dead.last_error == "refused: not a public address"


async def test_later_changes_of_an_event_wait_behind_a_dead_one_until_it_is_replayed(
    ledger: Ledger, store: WebhookStore, dispatcher: Dispatcher, receiver: Receiver
) -> None:
    endpoint, _ = store.register("upstream", receiver.url, ["accepted", "sent", "delivered"])
    receiver.status = 500
    accept_from(ledger, "e-1", "upstream")
    await run_until(dispatcher, lambda: len(store.messages(state="dead")) == 1)
    receiver.status = 204
    letter_rows_after_acceptance(ledger, "e-1")
    for _ in range(5):
        await dispatcher.round()
        await asyncio.sleep(0.05)
    assert receiver.got == []  # sent and delivered wait behind the dead acceptance
    store.replay(endpoint_id=endpoint.id)
    await run_until(dispatcher, lambda: len(receiver.got) == 3)
    assert [r.json["data"]["change"] for r in receiver.got] == ["accepted", "sent", "delivered"]


async def test_a_stale_claim_cannot_undo_what_another_dispatcher_did(
    ledger: Ledger, store: WebhookStore
) -> None:
    store.register("upstream", "http://127.0.0.1:9/", ["accepted"])
    accept_from(ledger, "e-1", "upstream")
    store.fan_out()
    (endpoint,) = store.due_endpoints()
    (first,) = store.claim(endpoint.id, limit=1, lease_s=0)  # its lease is over at once
    (second,) = store.claim(endpoint.id, limit=1, lease_s=60)
    store.succeeded(second)
    assert store.failed(first, "timeout", FAST.retry_schedule_s) == ""
    (message,) = store.messages()
    assert message.state == "delivered" and message.last_error is None


async def test_one_producers_hung_receivers_leave_room_for_another_producer(
    ledger: Ledger, store: WebhookStore, receiver: Receiver
) -> None:
    hung = threading.Event()
    slow = Receiver(gate=hung)
    slow.start()
    try:
        for _ in range(6):
            store.register("flooder", slow.url, ["accepted"])
        store.register("upstream", receiver.url, ["accepted"])
        for n in range(3):
            accept_from(ledger, f"f-{n}", "flooder")
            accept_from(ledger, f"u-{n}", "upstream")
        tight = dataclasses.replace(FAST, endpoints_at_once=3, endpoints_per_producer_at_once=2)
        dispatcher = Dispatcher(store, tight)
        try:
            await run_until(dispatcher, lambda: len(receiver.got) == 3)
            assert slow.got == []  # six hung endpoints, yet a slot was left for the other producer
        finally:
            hung.set()
            await dispatcher.close()
    finally:
        hung.set()
        slow.stop()
