"""A real HTTP receiver on loopback, and a webhook store over a SQLite or PostgreSQL ledger."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from comms.ledger import Ledger
from comms.models import producer_source
from comms.notification import NotificationPolicy
from comms.webhooks import WebhookStore
from comms.webhooks.dispatcher import Dispatcher, DispatchTuning
from tests.ledger.conftest import clock, db_url, ledger, pg_database  # noqa: F401
from tests.ledger.helpers import accept

FAST = DispatchTuning(
    retry_schedule_s=(0.05, 0.05, 0.05),
    timeout_s=5.0,
    poll_s=0.02,
    batch=500,
    endpoints_at_once=8,
    in_flight_per_endpoint=4,
    endpoints_per_producer_at_once=4,
    allow_private_targets=True,  # the receiver is on loopback
    keep_delivered_s=30 * 86400.0,
)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """An HTTP server that records what it is sent; it can answer 500, be slow, or be stopped."""

    status: int = 204
    gate: threading.Event | None = None  # held: the receiver does not answer until it is set
    got: list[Received] = field(default_factory=list)
    arrived: int = 0  # requests read, answered or still held at the gate
    port: int = 0
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                receiver.arrived += 1
                if receiver.gate is not None:
                    receiver.gate.wait(60)
                if 200 <= receiver.status < 300:
                    receiver.got.append(Received(dict(self.headers.items()), body))
                self.send_response(receiver.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    r.start()
    yield r
    r.stop()


@pytest.fixture
def store(ledger: Ledger) -> WebhookStore:  # noqa: F811
    return WebhookStore(ledger.engine, ledger.sealer, NotificationPolicy())


@pytest.fixture
async def dispatcher(store: WebhookStore) -> Any:
    d = Dispatcher(store, FAST)
    yield d
    await d.close()


def accept_from(ledger: Ledger, event_id: str, producer: str) -> None:  # noqa: F811
    """An event accepted as the HTTP intake accepts it: with the producer chained as its source."""
    accept(ledger, event_id, source=producer_source(producer))


async def run_until(
    dispatcher: Dispatcher, done: Callable[[], bool], *, timeout_s: float = 15.0
) -> None:
    """Dispatcher rounds until `done()` holds; fails the test if it never does."""
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the receiver did not get what was expected in time"
        await dispatcher.round()
        await asyncio.sleep(0.02)
