"""Posts outbox messages to their endpoints, signed per Standard Webhooks, each endpoint apart.

A process of its own (`comms webhooks run`), never a worker's job slot: a slow or dead receiver
can hold back its own messages only, never another receiver's and never a letter.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import structlog
from standardwebhooks.webhooks import Webhook

from channels.base import tls_context
from comms.webhooks.addresses import ForbiddenTarget, Target, pin
from comms.webhooks.store import DEAD, Endpoint, OutboxMessage, WebhookStore

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class DispatchTuning:
    """How hard the dispatcher pushes; from settings (`COMMS_WEBHOOK_*`)."""

    retry_schedule_s: Sequence[float]
    timeout_s: float  # one whole POST, connection to last byte
    poll_s: float
    batch: int
    endpoints_at_once: int
    in_flight_per_endpoint: int
    endpoints_per_producer_at_once: int  # one producer's dead receivers leave room for others
    allow_private_targets: bool  # loopback and private addresses: tests and the demo only
    keep_delivered_s: float  # then a delivered message's row is removed


class Dispatcher:
    """Fan-out then send, round after round; one task per endpoint with due messages."""

    def __init__(
        self,
        store: WebhookStore,
        tuning: DispatchTuning,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._store = store
        self._tuning = tuning
        self._transport = transport
        self._running: dict[str, asyncio.Task[None]] = {}
        self._slots = asyncio.Semaphore(tuning.endpoints_at_once)
        self._producer_slots: dict[str, asyncio.Semaphore] = {}
        self._purged_at = 0.0

    async def close(self) -> None:
        for task in self._running.values():
            task.cancel()
        await asyncio.gather(*self._running.values(), return_exceptions=True)

    async def run(self, *, stop: asyncio.Event, heartbeat: Path | None = None) -> None:
        """Rounds until `stop`; after each, `heartbeat`'s time is set: the HEALTHCHECK reads its age."""
        while not stop.is_set():
            busy = await self.round()
            if heartbeat is not None:
                await asyncio.to_thread(heartbeat.touch)
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._tuning.poll_s)

    async def round(self) -> bool:
        """One fan-out and one look for due endpoints; True when there may be more right away."""
        made = await asyncio.to_thread(self._store.fan_out, self._tuning.batch)
        due = await asyncio.to_thread(self._store.due_endpoints)
        loop = asyncio.get_running_loop()
        if loop.time() - self._purged_at > PURGE_EVERY_S:
            self._purged_at = loop.time()
            await asyncio.to_thread(self._store.purge_delivered, self._tuning.keep_delivered_s)
        for endpoint in due:
            if endpoint.id not in self._running and endpoint.disabled_at is None:
                self._running[endpoint.id] = asyncio.create_task(self._serve(endpoint))
        return made >= self._tuning.batch

    async def drain(self) -> None:
        """Rounds until nothing is due or running (tests and the bench)."""
        while True:
            await self.round()
            if not self._running:
                due = await asyncio.to_thread(self._store.due_endpoints)
                if not due:
                    return
            else:
                await asyncio.gather(*list(self._running.values()), return_exceptions=True)

    async def _serve(self, endpoint: Endpoint) -> None:
        try:
            await self._serve_once(endpoint)
        finally:
            self._running.pop(endpoint.id, None)

    async def _serve_once(self, endpoint: Endpoint) -> None:
        mine = self._producer_slots.setdefault(
            endpoint.producer, asyncio.Semaphore(self._tuning.endpoints_per_producer_at_once)
        )
        async with mine, self._slots, self._client() as client:
            lease_s = self._tuning.timeout_s * 2 + 30
            signer: Webhook | None = None
            target: Target | None = None  # resolved and checked once a turn, not per message
            # While it has due messages, up to a bound: then the slot goes back to the others.
            for _ in range(BATCHES_PER_TURN):
                claimed = await asyncio.to_thread(
                    self._store.claim,
                    endpoint.id,
                    limit=self._tuning.in_flight_per_endpoint,
                    lease_s=lease_s,
                )
                if not claimed:
                    return
                if signer is None:
                    signer = Webhook(await asyncio.to_thread(self._store.secret_of, endpoint.id))
                    target = await self._pinned(endpoint)
                post = functools.partial(self._post, client, target)
                await asyncio.gather(*(self._send(endpoint, signer, post, m) for m in claimed))

    def _client(self) -> httpx.AsyncClient:
        """One client per endpoint and turn: its pooled connections (and their TLS, checked for
        this endpoint's name) are never lent to another endpoint behind the same address."""
        return httpx.AsyncClient(
            timeout=self._tuning.timeout_s,
            transport=self._transport,
            follow_redirects=False,
            verify=tls_context(),
        )

    async def _pinned(self, endpoint: Endpoint) -> Target | None:
        try:
            return await pin(endpoint.url, allow_private=self._tuning.allow_private_targets)
        except ForbiddenTarget:
            return None

    async def _send(
        self,
        endpoint: Endpoint,
        signer: Webhook,
        post: Callable[[OutboxMessage, dict[str, str]], Awaitable[str | None]],
        message: OutboxMessage,
    ) -> None:
        now = datetime.now(UTC)
        headers = {
            "content-type": "application/json",
            "webhook-id": message.id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signer.sign(message.id, now, message.payload),
        }
        error = await post(message, headers)
        if error is None:
            await asyncio.to_thread(self._store.succeeded, message)
            return
        state = await asyncio.to_thread(
            self._store.failed, message, error, self._tuning.retry_schedule_s
        )
        if state == DEAD:
            log.warning(
                "webhook_dead_letter", endpoint=endpoint.id, message=message.id, error=error
            )

    async def _post(
        self,
        client: httpx.AsyncClient,
        target: Target | None,
        message: OutboxMessage,
        headers: dict[str, str],
    ) -> str | None:
        """None when the receiver took it; else what went wrong, coarse enough to show producers
        (no error text of ours: it would map the network behind the receiver)."""
        if target is None:
            return "refused: not a public address"
        extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else None
        try:
            async with asyncio.timeout(self._tuning.timeout_s):
                answer = await client.post(
                    target.url,
                    content=message.payload,
                    headers=headers | {"host": target.host_header},
                    extensions=extensions,
                )
        except TimeoutError:
            return "timeout"
        except httpx.HTTPError:
            return "unreachable"
        return None if 200 <= answer.status_code < 300 else f"HTTP {answer.status_code}"


HEARTBEAT = "webhooks.heartbeat"  # in the data folder; ops/healthcheck.py reads it by this name
BATCHES_PER_TURN = 50  # claims one endpoint makes in a row before it lets others have the slot
PURGE_EVERY_S = 3600.0  # delivered messages past their keep time are removed this often
