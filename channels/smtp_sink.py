"""A loopback SMTP server that files every message it accepts in a Maildir (demo and tests)."""

from __future__ import annotations

import asyncio
import mailbox
import threading
from collections.abc import Awaitable
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

Stage = Literal["rcpt", "data"]
_FILE_ATTEMPTS = 5


class _FailurePlan:
    """The next `count` messages are answered with `reply` at `stage` instead of being accepted."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reply = ""
        self._stage: Stage = "data"
        self._count = 0

    def set(self, reply: str, count: int, stage: Stage) -> None:
        with self._lock:
            self._reply, self._count, self._stage = reply, count, stage

    def take(self, stage: Stage) -> str | None:
        with self._lock:
            if self._count <= 0 or self._stage != stage:
                return None
            self._count -= 1
            return self._reply


class _MaildirHandler:
    """aiosmtpd handler: refuse when a failure is planned, otherwise file the message."""

    def __init__(self, maildir: mailbox.Maildir, plan: _FailurePlan) -> None:
        self._maildir = maildir
        self._plan = plan

    async def handle_RCPT(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        refusal = self._plan.take("rcpt")
        if refusal is not None:
            return refusal.replace("{address}", address)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(  # noqa: N802 (aiosmtpd's hook name)
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        refusal = self._plan.take("data")
        if refusal is not None:
            return refusal
        # Trace headers (as a delivery agent writes them) keep the envelope for tests, and the
        # client's address and port, which tell the connections a batch came over apart.
        trace = f"Return-Path: <{envelope.mail_from}>\n"
        trace += "".join(f"Delivered-To: {rcpt}\n" for rcpt in envelope.rcpt_tos)
        peer: object = session.peer  # the socket's peername, typed loosely by aiosmtpd
        if isinstance(peer, tuple):
            peer = f"[{peer[0]}]:{peer[1]}"
        trace += f"Received: from {session.host_name} ({peer}) by comms smtp sink\n"
        # Maildir files use local line endings, as a delivery agent writes them, not SMTP's CRLF.
        content = (envelope.original_content or b"").replace(b"\r\n", b"\n")
        # In a thread: Maildir syncs each file to disk (3-7 ms here), which would stall every
        # other session on this event loop; in threads the syncs of several sessions overlap.
        key = await asyncio.to_thread(self._file, trace.encode() + content)
        return f"250 OK queued as {key}"

    def _file(self, message: bytes) -> str:
        for _ in range(_FILE_ATTEMPTS):
            try:
                return self._maildir.add(message)
            except mailbox.ExternalClashError:
                # Two threads took the same unique name (mailbox's counter is not thread-safe);
                # the file was not written, so a new name is all it takes.
                continue
        raise mailbox.ExternalClashError("no unique Maildir name")


class _Controller(Controller):
    """aiosmtpd's Controller, taught to bind port 0 and report the port it got."""

    async def _bind(self) -> asyncio.AbstractServer:
        server = await super()._create_server()
        assert isinstance(server, asyncio.Server)  # loop.create_server's concrete type
        self.port = server.sockets[0].getsockname()[1]
        return server

    def _create_server(self) -> Awaitable[asyncio.AbstractServer]:
        return self._bind()


class SmtpSink:
    """Start, send mail to `127.0.0.1:{port}`, read `messages()`, stop; or `with SmtpSink(...)`."""

    def __init__(self, maildir: Path, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.maildir_path = maildir
        maildir.parent.mkdir(parents=True, exist_ok=True)  # Maildir creates one level only
        self._maildir = mailbox.Maildir(maildir, create=True)
        self._plan = _FailurePlan()
        self._controller = _Controller(
            _MaildirHandler(self._maildir, self._plan), hostname=host, port=port
        )
        self.host = host

    @property
    def port(self) -> int:
        port: int = self._controller.port
        return port

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()

    def fail_next(self, reply: str, *, count: int = 1, stage: Stage = "data") -> None:
        """Answer `reply` (e.g. "451 4.3.0 try later") to the next `count` messages at `stage`.

        At the RCPT stage `{address}` in the reply is replaced by the recipient, as real servers do.
        """
        self._plan.set(reply, count, stage)

    def messages(self) -> list[EmailMessage]:
        """Every message received so far, oldest first, parsed with the modern email policy."""
        keys = sorted(self._maildir.keys(), key=lambda k: self._maildir.get_message(k).get_date())
        parser = BytesParser(policy=policy.default)
        return [parser.parsebytes(self._maildir.get_bytes(k)) for k in keys]

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
