"""Receive mail for the bounce address over SMTP (aiosmtpd) and hand each message to a callback.

The server runs on the caller's event loop, so the callback may use the same connections (ledger,
SMTP pool, eBox client) as the rest of the process. A message is answered 250 only after the
callback returned: if recording fails, the sending server is told 451 and tries again later.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Awaitable, Callable, Collection
from types import TracebackType
from typing import Any, Self

from aiosmtpd.smtp import SMTP, Envelope, Session

log = logging.getLogger(__name__)

OnMessage = Callable[[bytes], Awaitable[object]]
MAX_MESSAGE_BYTES = 10 * 1024 * 1024  # a DSN returning the whole letter (PDF) stays well below
SESSION_TIMEOUT_S = 120.0  # an idle client is dropped; bounces come from machines, not people


class _Handler:
    """aiosmtpd hooks: only our bounce addresses are accepted; each message goes to `on_message`."""

    def __init__(self, on_message: OnMessage, accept: Collection[str]) -> None:
        self._on_message = on_message
        self._accept = {a.lower() for a in accept}

    def _accepts(self, address: str) -> bool:
        if not self._accept:
            return True
        address = address.lower()
        return address in self._accept or "@" + address.rpartition("@")[2] in self._accept

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if not self._accepts(address):
            return "550 5.1.1 not a bounce address of this server"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        try:
            await self._on_message(envelope.original_content or b"")
        except Exception as exc:  # whatever failed, the sender must keep the message and retry
            log.error("bounce not recorded, sender will retry", extra={"error": type(exc).__name__})
            return "451 4.3.0 could not record the message, try again later"
        return "250 OK recorded"


class BounceServer:
    """`async with BounceServer(callback, port=…)`: listens until the block ends."""

    def __init__(
        self,
        on_message: OnMessage,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        accept: Collection[str] = (),
        hostname: str | None = None,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
    ) -> None:
        """`accept`: addresses (`bounces@fonds.example`) or domains (`@fonds.example`); empty: any."""
        self.host = host
        self._port = port
        self._handler = _Handler(on_message, accept)
        # Looked up once: aiosmtpd would otherwise ask the resolver for the FQDN on every connection.
        self._hostname = hostname or socket.gethostname()
        self._max_bytes = max_message_bytes
        self._server: asyncio.Server | None = None

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("bounce server not started")
        port: int = self._server.sockets[0].getsockname()[1]
        return port

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: SMTP(
                self._handler,
                data_size_limit=self._max_bytes,
                enable_SMTPUTF8=True,
                hostname=self._hostname,
                timeout=SESSION_TIMEOUT_S,
                loop=loop,
            ),
            host=self.host,
            port=self._port,
        )

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def serve_forever(self) -> None:
        if self._server is None:
            await self.start()
        assert self._server is not None
        await self._server.serve_forever()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
