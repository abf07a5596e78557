"""A small pool of connected aiosmtplib clients, so a burst of mail pays one handshake, not many."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import aiosmtplib

log = logging.getLogger(__name__)

# Exceptions after which a client's session state is unknown: drop it rather than reuse it.
_BROKEN = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError, OSError)


class SmtpPool:
    """Lends out at most `size` connected clients; a broken one is dropped and replaced on next use.

    A client that sat idle may have been closed by the server, so each reuse starts with a NOOP
    (one round trip), which is cheaper than discovering the dead connection half-way through DATA.
    """

    def __init__(self, factory: Callable[[], aiosmtplib.SMTP], *, size: int) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self._factory = factory
        self._size = size
        self._idle: list[aiosmtplib.SMTP] = []
        self._slots: asyncio.Semaphore | None = None

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[aiosmtplib.SMTP]:
        """Yields a connected client; returns it to the pool unless the session broke."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)
        async with self._slots:
            client = await self._checkout()
            try:
                yield client
            except _BROKEN:
                self._discard(client)
                raise
            except aiosmtplib.SMTPException:
                # A refused command leaves the session usable: aiosmtplib has already sent RSET.
                self._checkin(client)
                raise
            except BaseException:
                # An unexpected error or a cancellation mid-command: the session state is unknown.
                self._discard(client)
                raise
            else:
                self._checkin(client)

    async def close(self) -> None:
        """Says QUIT to every idle client; errors on the way out do not matter."""
        idle, self._idle = self._idle, []
        for client in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def _checkout(self) -> aiosmtplib.SMTP:
        while self._idle:
            client = self._idle.pop()
            if not client.is_connected:
                continue
            try:
                await client.noop()
            except (aiosmtplib.SMTPException, OSError):
                log.info("smtp connection went stale, reconnecting")
                client.close()
                continue
            return client
        client = self._factory()
        await client.connect()
        return client

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append(client)

    @staticmethod
    def _discard(client: aiosmtplib.SMTP) -> None:
        client.close()
