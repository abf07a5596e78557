"""EmailChannel against a real aiosmtpd server on loopback (SmtpSink)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiosmtplib
import pytest

from channels.base import Attachment, Outgoing, PermanentError, TransientError
from channels.email import EmailChannel
from channels.smtp_pool import SmtpPool
from channels.smtp_sink import SmtpSink


def channel_for(sink: SmtpSink, **kwargs: object) -> EmailChannel:
    options: dict[str, object] = {
        "host": sink.host,
        "port": sink.port,
        "sender": "Sociaal verzekeringsfonds <noreply@fonds.example>",
        "message_id_domain": "fonds.example",
        "timeout_s": 5.0,
    }
    options.update(kwargs)
    return EmailChannel(**options)  # type: ignore[arg-type]


@pytest.fixture
async def email(smtp_sink: SmtpSink) -> AsyncIterator[EmailChannel]:
    async with channel_for(smtp_sink) as channel:
        yield channel


async def test_letter_arrives_with_both_parts_and_the_pdf(
    email: EmailChannel, smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing], pdf: bytes
) -> None:
    """A reminder by email reaches the server as text + HTML with the PDF attached."""
    outgoing = make_outgoing(headers={"Auto-Submitted": "auto-generated"})

    receipt = await email.send(outgoing)

    assert receipt.channel == "email"
    assert receipt.outcome == "dispatched"
    assert receipt.evidence["message_id"] == "<c0ffee0123456789@fonds.example>"
    assert receipt.evidence["smtp_code"] == "250"
    assert "smtp_reply" not in receipt.evidence  # the server's free text is never kept
    [msg] = smtp_sink.messages()
    assert msg["Message-ID"] == "<c0ffee0123456789@fonds.example>"
    assert msg["Subject"] == outgoing.subject
    assert msg["From"] == "Sociaal verzekeringsfonds <noreply@fonds.example>"
    assert msg["To"] == "Anna Peeters <anna.peeters@example.be>"
    assert msg["Content-Language"] == "nl"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Date"] is not None
    assert msg["Return-Path"] == "<noreply@fonds.example>"
    assert msg["Delivered-To"] == "anna.peeters@example.be"
    assert msg.get_content_type() == "multipart/mixed"
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and text.get_content() == outgoing.text
    assert html is not None and html.get_content().strip() == outgoing.html
    [attachment] = list(msg.iter_attachments())
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_filename() == "vervaldagbericht.pdf"
    assert attachment.get_content() == pdf


async def test_a_batch_over_pooled_connections_arrives_whole(
    smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing], pdf: bytes
) -> None:
    """Twenty letters sent at once over four connections: each arrives once, with its own PDF."""
    letters = [
        make_outgoing(
            communication_id=f"c0ffee01234567{i:02d}",
            subject=f"Avis d'échéance n° {i}",
            text=f"Madame, Monsieur,\n.\n..{i} €\n",  # lines SMTP must dot-stuff
            document=Attachment(f"avis-échéance-{i}.pdf", pdf + f"%{i}\n".encode()),
            to={"label": "Anaïs Dupont"},
        )
        for i in range(20)
    ]

    async with channel_for(smtp_sink, pool_size=4) as channel:
        receipts = await asyncio.gather(*(channel.send(letter) for letter in letters))

    assert [r.outcome for r in receipts] == ["dispatched"] * 20
    received = {msg["Message-ID"]: msg for msg in smtp_sink.messages()}
    assert len(received) == 20
    for letter in letters:
        msg = received[f"<{letter.communication_id}@fonds.example>"]
        assert msg["Subject"] == letter.subject
        assert msg["To"] == "Anaïs Dupont <anna.peeters@example.be>"
        text = msg.get_body(preferencelist=("plain",))
        assert text is not None and text.get_content() == letter.text
        [attachment] = list(msg.iter_attachments())
        assert attachment.get_filename() == letter.document.filename
        assert attachment.get_content() == letter.document.content
    connections = {msg["Received"] for msg in received.values()}
    assert 1 <= len(connections) <= 4


async def test_a_connection_idle_too_long_is_checked_and_replaced(tmp_path: Path) -> None:
    """Past the fresh window a pooled connection gets a NOOP first; a restarted server is found."""
    message = b"Subject: x\r\n\r\nbody\r\n"
    first = SmtpSink(tmp_path / "maildir")
    first.start()
    port = first.port
    pool = SmtpPool(
        lambda: aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=5.0), size=1, fresh_s=0.0
    )
    await pool.sendmail("noreply@fonds.example", ["anna.peeters@example.be"], message)
    first.stop()
    with SmtpSink(tmp_path / "maildir", port=port) as second:
        await pool.sendmail("noreply@fonds.example", ["anna.peeters@example.be"], message)
        await pool.close()
        assert len(second.messages()) == 2


async def test_notification_only_has_no_attachment(
    email: EmailChannel, smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing]
) -> None:
    """When the letter lives elsewhere, the email carries the two alternatives only."""
    await email.send(make_outgoing(attach_document=False))

    [msg] = smtp_sink.messages()
    assert msg.get_content_type() == "multipart/alternative"
    assert list(msg.iter_attachments()) == []


async def test_retry_keeps_the_message_id(
    email: EmailChannel, smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing]
) -> None:
    """A second attempt for the same communication carries the same Message-ID."""
    await email.send(make_outgoing())
    await email.send(make_outgoing())

    ids = {msg["Message-ID"] for msg in smtp_sink.messages()}
    assert ids == {"<c0ffee0123456789@fonds.example>"}


async def test_4xx_at_data_is_transient_and_the_connection_is_reused(
    email: EmailChannel, smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing]
) -> None:
    """A greylisting server says 451: try again later, on the same pooled connection."""
    smtp_sink.fail_next("451 4.7.1 Greylisted for Anna Peeters, try again later")

    with pytest.raises(TransientError) as caught:
        await email.send(make_outgoing())
    assert caught.value.reason == "smtp 451 4.7.1"
    await email.send(make_outgoing())

    assert len(smtp_sink.messages()) == 1


async def test_5xx_at_rcpt_is_permanent_with_scrubbed_evidence(
    email: EmailChannel,
    smtp_sink: SmtpSink,
    make_outgoing: Callable[..., Outgoing],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An unknown mailbox is final: fall back, and keep only the codes, never the server's text
    (it may quote the member's name or street: issue 13)."""
    smtp_sink.fail_next(
        "550 5.1.1 <{address}>: mailbox of Anna Peeters, Kerkstraat 12 unknown", stage="rcpt"
    )
    caplog.set_level(logging.DEBUG)

    with pytest.raises(PermanentError) as caught:
        await email.send(make_outgoing())

    assert caught.value.evidence == {"smtp_code": "550", "smtp_status": "5.1.1"}
    assert caught.value.reason == "smtp 550 5.1.1"
    assert "anna" not in str(caught.value).lower()
    ours = [r for r in caplog.records if r.name.startswith("channels")]
    assert ours, "the refusal is logged"
    for record in ours:
        assert "example.be" not in str(record.__dict__)
    assert smtp_sink.messages() == []


async def test_5xx_at_data_is_permanent(
    email: EmailChannel, smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing]
) -> None:
    """A message refused as content (e.g. too large) will not go through on retry."""
    smtp_sink.fail_next("552 5.3.4 Message too big")

    with pytest.raises(PermanentError) as caught:
        await email.send(make_outgoing())

    assert caught.value.evidence == {"smtp_code": "552", "smtp_status": "5.3.4"}


async def test_server_down_is_transient(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Nobody listens on the port: retry later."""
    with SmtpSink(tmp_path / "maildir") as sink:
        channel = channel_for(sink)
    async with channel:
        with pytest.raises(TransientError):
            await channel.send(make_outgoing())


async def test_silent_server_times_out_as_transient(make_outgoing: Callable[..., Outgoing]) -> None:
    """A server that accepts the connection but never greets: the timeout says retry later."""

    async def mute(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # hold the line open, say nothing
        writer.close()

    server = await asyncio.start_server(mute, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        async with EmailChannel(
            host="127.0.0.1",
            port=port,
            sender="noreply@fonds.example",
            message_id_domain="fonds.example",
            timeout_s=0.3,
        ) as channel:
            with pytest.raises(TransientError):
                await channel.send(make_outgoing())
    finally:
        server.close()
        await server.wait_closed()


async def test_stale_pooled_connection_is_replaced(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """The server restarted while a connection sat idle: the next send reconnects by itself."""
    first = SmtpSink(tmp_path / "maildir")
    first.start()
    port = first.port
    async with channel_for(first, pool_size=1) as channel:
        await channel.send(make_outgoing())
        first.stop()
        with SmtpSink(tmp_path / "maildir", port=port) as second:
            await channel.send(make_outgoing(communication_id="c0ffee0123456790"))
            assert len(second.messages()) == 2


async def test_missing_address_and_reserved_header_are_refused(
    email: EmailChannel, make_outgoing: Callable[..., Outgoing]
) -> None:
    """What no retry can fix is permanent, and nothing reaches the server."""
    with pytest.raises(PermanentError):
        await email.send(make_outgoing(to={"email": None}))
    with pytest.raises(PermanentError):
        await email.send(make_outgoing(headers={"Message-ID": "<other@x>"}))
    with pytest.raises(PermanentError):
        await email.send(make_outgoing(subject="Injected\r\nBcc: someone@example.org"))


async def test_credentials_the_server_cannot_take_are_transient(
    smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing]
) -> None:
    """A relay without AUTH on a plain connection: our setup is wrong, not the letter."""
    async with channel_for(smtp_sink, username="comms", password="not-used") as channel:
        with pytest.raises(TransientError):
            await channel.send(make_outgoing())
    assert smtp_sink.messages() == []


async def test_a_message_may_bring_its_own_from_name_and_reply_address(
    email: EmailChannel, smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing]
) -> None:
    """A French letter goes out under the fund's French name; replies reach a person."""
    outgoing = make_outgoing(
        sender_name="Caisse d'assurances sociales Exemple asbl", reply_to="info@fonds.example"
    )
    await email.send(outgoing)
    [msg] = smtp_sink.messages()
    assert msg["From"] == "Caisse d'assurances sociales Exemple asbl <noreply@fonds.example>"
    assert msg["Reply-To"] == "info@fonds.example"
    assert msg["Return-Path"] == "<noreply@fonds.example>"  # bounces still come to us


async def test_a_from_name_or_reply_address_cannot_smuggle_headers(
    email: EmailChannel, smtp_sink: SmtpSink, make_outgoing: Callable[..., Outgoing]
) -> None:
    for bad in (
        {"sender_name": "Fonds\r\nBcc: victim@example.com"},
        {"reply_to": "info@fonds.example\r\nBcc: victim@example.com"},
    ):
        with pytest.raises(PermanentError):
            await email.send(make_outgoing(**bad))
    assert smtp_sink.messages() == []
