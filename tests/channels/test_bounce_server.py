"""BounceServer: a DSN sent over real SMTP on loopback reaches the callback, or is retried."""

from __future__ import annotations

from pathlib import Path

import aiosmtplib
import pytest

from channels.bounce_server import BounceServer

DSN = (Path(__file__).parent / "fixtures" / "dsn" / "postfix-user-unknown.eml").read_bytes()


async def send(port: int, recipient: str = "bounces@fonds.example") -> None:
    """As a remote mail system returns a bounce: null sender, to our bounce address."""
    async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5) as client:
        await client.sendmail("", [recipient], DSN)


async def test_a_dsn_reaches_the_callback_before_the_250() -> None:
    """The bytes the callback gets are the message as sent."""
    received: list[bytes] = []

    async def on_message(raw: bytes) -> None:
        received.append(raw)

    async with BounceServer(on_message, accept=["bounces@fonds.example"]) as server:
        await send(server.port)

    assert len(received) == 1
    assert received[0].replace(b"\r\n", b"\n") == DSN.replace(b"\r\n", b"\n")


async def test_other_recipients_are_refused() -> None:
    """The receiver is no open mail server: only the bounce address (or domain) is taken."""

    received: list[bytes] = []

    async def on_message(raw: bytes) -> None:
        received.append(raw)

    async with BounceServer(on_message, accept=["@fonds.example"]) as server:
        await send(server.port, "Bounces@Fonds.Example")  # the domain matches, in any case
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(server.port, "someone@elsewhere.example")
    assert refused.value.recipients[0].code == 550
    assert len(received) == 1


async def test_a_failing_callback_makes_the_sender_retry(caplog: pytest.LogCaptureFixture) -> None:
    """451: the remote server keeps the bounce and delivers it again later."""
    attempts: list[int] = []

    async def on_message(raw: bytes) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            raise RuntimeError("ledger down")

    async with BounceServer(on_message) as server:
        with pytest.raises(aiosmtplib.SMTPDataError) as failed:
            await send(server.port)
        await send(server.port)

    assert failed.value.code == 451
    assert len(attempts) == 2
    assert [r.getMessage() for r in caplog.records] == ["bounce not recorded, sender will retry"]
