"""Messages per second through EmailChannel to the loopback SMTP sink, each with a 50 KB PDF.

    python bench/email_rate.py                        # 2,000 messages, pool sizes 1, 2, 4, 8, 16
    python bench/email_rate.py --pool-sizes 8 --messages 5000

The sink (channels/smtp_sink.py, filing a Maildir) runs in its own process, so client and server
do not share one interpreter's lock; the client sends with as many messages in flight as its pool
has connections. Each run checks that the sink filed every message.

Not `bench/email.py`: a script's folder comes first on sys.path, so that name would stand in for
the standard library's `email` package for every script run from bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import dataclasses
import mailbox
import multiprocessing as mp
import os
import tempfile
import time
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib

from channels.base import Attachment, ChannelAddress, Outgoing, Receipt
from channels.email import EmailChannel
from channels.smtp_sink import SmtpSink

PDF_KB = 50  # the attachment size
TEXT = "Geachte mevrouw, geachte heer,\n\nIn de bijlage vindt u uw vervaldagbericht.\n" * 8
HTML = "<p>Geachte mevrouw, geachte heer,</p><p>In de bijlage vindt u uw vervaldagbericht.</p>" * 8


def _sink(maildir: str, ports: Any, stop: Any) -> None:
    with SmtpSink(Path(maildir)) as sink:
        ports.put(sink.port)
        cpu0 = time.process_time()
        stop.wait()
        ports.put(time.process_time() - cpu0)


class SerialisedOnce(EmailChannel):
    """A sketch of the change proposed for channels/email.py (not used by comms), to measure it.

    The message becomes bytes once: the email package builds only the small text and HTML parts,
    the PDF is base64-encoded in C and put in place, and the bytes go to `sendmail` (no second
    flattening by `send_message`; a retry could resend the same bytes). A connection used in the
    last `FRESH_S` seconds is reused without the NOOP round trip.
    """

    FRESH_S = 5.0
    PLACEHOLDER = "@@document@@"

    def serialise(self, outgoing: Outgoing) -> bytes:
        msg = self.build(dataclasses.replace(outgoing, attach_document=False))
        if not outgoing.attach_document:
            return msg.as_bytes(policy=policy.SMTP)
        part = EmailMessage()
        part.add_header("Content-Type", outgoing.document.content_type)
        part.add_header("Content-Transfer-Encoding", "base64")
        part.add_header("Content-Disposition", "attachment", filename=outgoing.document.filename)
        part.set_payload(self.PLACEHOLDER)
        language = msg["Content-Language"]
        del msg["Content-Language"]
        msg.make_mixed()
        msg.attach(part)
        msg["Content-Language"] = language
        encoded = base64.encodebytes(outgoing.document.content).replace(b"\n", b"\r\n")
        return msg.as_bytes(policy=policy.SMTP).replace(
            self.PLACEHOLDER.encode(), encoded.rstrip(b"\r\n"), 1
        )

    async def send(self, outgoing: Outgoing) -> Receipt:
        data = self.serialise(outgoing)
        assert outgoing.to.email
        async with self._pool.connection() as client:
            await client.sendmail(self._envelope_sender, [outgoing.to.email], data)
            client.comms_used_at = time.monotonic()  # type: ignore[attr-defined]
        return Receipt(self.name, outgoing.communication_id, "dispatched", {})

    async def open(self) -> None:
        pool = self._pool
        checkout = pool._checkout

        async def fresh_first() -> aiosmtplib.SMTP:
            while pool._idle:
                client = pool._idle[-1]
                if (
                    client.is_connected
                    and time.monotonic() - getattr(client, "comms_used_at", 0.0) < self.FRESH_S
                ):
                    return pool._idle.pop()
                break
            return await checkout()

        pool._checkout = fresh_first  # type: ignore[method-assign]


def outgoing(i: int, pdf: bytes) -> Outgoing:
    return Outgoing(
        communication_id=f"bench{i:08d}",
        language="nl",
        subject=f"Vervaldagbericht sociale bijdragen 1e kwartaal 2027 (D-{i:07d})",
        text=TEXT,
        html=HTML,
        document=Attachment(filename=f"contribution_notice-D-{i:07d}.pdf", content=pdf),
        to=ChannelAddress(label="An Peeters", email=f"member{i}@example.org"),
    )


async def send_all(
    port: int, messages: int, pool_size: int, proposed: bool = False
) -> tuple[float, float]:
    """Wall and CPU seconds for `messages` sends, `pool_size` in flight at a time."""
    channel = (SerialisedOnce if proposed else EmailChannel)(
        host="127.0.0.1",
        port=port,
        sender="Sociaal verzekeringsfonds <noreply@fonds.example>",
        message_id_domain="fonds.example",
        pool_size=pool_size,
    )
    await channel.open()
    pdf = b"%PDF-1.7\n" + os.urandom(PDF_KB * 1024 - 9)  # random: no compression flatters it
    batch = [outgoing(i, pdf) for i in range(messages)]
    await channel.send(outgoing(messages, pdf))  # the first connection's handshake
    queue: asyncio.Queue[Outgoing] = asyncio.Queue()
    for item in batch:
        queue.put_nowait(item)

    async def sender() -> None:
        while not queue.empty():
            await channel.send(queue.get_nowait())

    cpu0, wall0 = time.process_time(), time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(pool_size)))
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    await channel.close()
    return wall, cpu


def run(messages: int, pool_size: int, proposed: bool = False) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-email-") as tmp:
        maildir = Path(tmp) / "Maildir"
        ports, stop = ctx.Queue(), ctx.Event()
        server = ctx.Process(target=_sink, args=(str(maildir), ports, stop))
        server.start()
        try:
            wall, cpu = asyncio.run(send_all(ports.get(timeout=30), messages, pool_size, proposed))
        finally:
            stop.set()
        server_cpu = ports.get(timeout=30)
        server.join()
        filed = len(mailbox.Maildir(maildir, create=False))
    if filed != messages + 1:
        raise SystemExit(f"the sink filed {filed} messages, expected {messages + 1}")
    return {
        "rate": messages / wall,
        "cpu_ms": 1000 * cpu / messages,
        "server_cpu_ms": 1000 * server_cpu / messages,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--pool-sizes", default="1,2,4,8,16")
    parser.add_argument(
        "--proposed", action="store_true", help="also the serialise-once sketch, paired"
    )
    args = parser.parse_args()
    print(f"{args.messages:,} messages with a {PDF_KB} KB PDF; {os.cpu_count()} cores")
    print(
        f"{'connections':>12}{'messages/s':>12}{'client CPU ms/msg':>19}"
        f"{'sink CPU ms/msg':>17}{'load avg':>10}"
    )
    for size in (int(s) for s in args.pool_sizes.split(",")):
        for proposed in (False, True) if args.proposed else (False,):
            r = run(args.messages, size, proposed)
            load = os.getloadavg()[0]
            label = f"{size} sketch" if proposed else str(size)
            print(
                f"{label:>12}{r['rate']:>12.0f}{r['cpu_ms']:>19.2f}{r['server_cpu_ms']:>17.2f}"
                f"{load:>10.1f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
