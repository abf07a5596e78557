"""A small pool of connected aiosmtplib clients, so a burst of mail pays one handshake, not many."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

import aiosmtplib
from aiosmtplib import SMTPResponse

log = logging.getLogger(__name__)

# Exceptions after which a client's session state is unknown: drop it rather than reuse it.
_BROKEN = (aiosmtplib.SMTPServerDisconnected, aiosmtplib.SMTPTimeoutError, ConnectionError, OSError)
# What a connection the server closed while it sat in the pool looks like at the next command.
_CLOSED = (aiosmtplib.SMTPServerDisconnected, ConnectionError)
# Well under servers' idle timeouts (RFC 5321 §4.5.3.2.7: 5 minutes; Postfix under stress: 10 s).
FRESH_S = 5.0


class SmtpPool:
    """At most `size` connected clients, each carrying one transaction at a time.

    A client used in the last `fresh_s` seconds is reused as it is: in a burst, a NOOP before each
    message costs a round trip and finds nothing. One idle for longer is checked with a NOOP
    first. A broken client is dropped and a new connection made on the next use.
    """

    def __init__(
        self, factory: Callable[[], aiosmtplib.SMTP], *, size: int, fresh_s: float = FRESH_S
    ) -> None:
        if size < 1:
            raise ValueError("pool size must be at least 1")
        self._factory = factory
        self._size = size
        self._fresh_s = fresh_s
        self._idle: list[tuple[aiosmtplib.SMTP, float]] = []  # (client, last used), newest last
        self._slots: asyncio.Semaphore | None = None

    async def sendmail(
        self,
        sender: str,
        recipients: Sequence[str],
        message: bytes,
        *,
        mail_options: Sequence[str] = (),
    ) -> tuple[dict[str, SMTPResponse], str]:
        """`aiosmtplib.SMTP.sendmail` on a pooled client; the message bytes are sent as given.

        A client reused without a NOOP may have been closed by the server all the same (a
        restart): the transaction then runs once more on a new connection, as it would have after
        a failed NOOP. Had the server taken the message before the line dropped (its 250 lost),
        the recipient gets it twice with the same Message-ID, as after any retry.
        aiosmtplib's exceptions pass through.
        """
        if self._slots is None:
            self._slots = asyncio.Semaphore(self._size)
        async with self._slots:
            client, checked = await self._checkout()
            try:
                return await self._transaction(client, sender, recipients, message, mail_options)
            except _CLOSED:
                if checked:
                    raise
                log.info("smtp connection was closed by the server, reconnecting")
            client = await self._connect()
            return await self._transaction(client, sender, recipients, message, mail_options)

    async def close(self) -> None:
        """Says QUIT to every idle client; errors on the way out do not matter."""
        idle, self._idle = self._idle, []
        for client, _ in idle:
            try:
                await client.quit()
            except (aiosmtplib.SMTPException, OSError):
                client.close()

    async def _transaction(
        self,
        client: aiosmtplib.SMTP,
        sender: str,
        recipients: Sequence[str],
        message: bytes,
        mail_options: Sequence[str],
    ) -> tuple[dict[str, SMTPResponse], str]:
        try:
            result = await client.sendmail(sender, recipients, message, mail_options=mail_options)
        except _BROKEN:
            client.close()
            raise
        except aiosmtplib.SMTPException:
            # A refused command leaves the session usable: aiosmtplib has already sent RSET.
            self._checkin(client)
            raise
        except BaseException:
            # An unexpected error or a cancellation mid-command: the session state is unknown.
            client.close()
            raise
        self._checkin(client)
        return result

    async def _checkout(self) -> tuple[aiosmtplib.SMTP, bool]:
        """A connected client, and whether it was just checked (new, or answered a NOOP)."""
        while self._idle:
            client, used_at = self._idle.pop()
            if not client.is_connected:
                continue
            if time.monotonic() - used_at < self._fresh_s:
                return client, False
            try:
                await client.noop()
            except (aiosmtplib.SMTPException, OSError):
                log.info("smtp connection went stale, reconnecting")
                client.close()
                continue
            return client, True
        return await self._connect(), True

    async def _connect(self) -> aiosmtplib.SMTP:
        client = self._factory()
        await client.connect()
        return client

    def _checkin(self, client: aiosmtplib.SMTP) -> None:
        if client.is_connected:
            self._idle.append((client, time.monotonic()))
