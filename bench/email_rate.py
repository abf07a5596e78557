"""Messages per second through EmailChannel to the loopback SMTP sink, each with a 50 KB PDF.

    python bench/email_rate.py                        # 2,000 messages, pool sizes 1, 2, 4, 8, 16
    python bench/email_rate.py --pool-sizes 8 --messages 5000
    python bench/email_rate.py --serialise-only       # CPU to make one message's bytes, paired
    python bench/email_rate.py --server 127.0.0.1:2525 --server-pid PID   # another server

Two variants per pool size, one after the other in this run, so both see the same machine:
  comms   channels/email.py as it is: the message serialised once (the PDF's base64 put in place of
          a placeholder), the bytes given to `sendmail`, connections used in the last seconds
          reused without a NOOP;
  before  the channel before issue 7, the baseline: the email package encodes the PDF into the
          message, aiosmtplib flattens it as `send_message` does, a NOOP before every reuse.
Ratios: messages/s ÷ `before` at the same pool size, and ÷ `comms` with one connection.

The sink (channels/smtp_sink.py, filing a Maildir) runs in its own process, so client and server
do not share one interpreter's lock; the client sends with as many messages in flight as its pool
has connections. Each run checks that the sink filed every message. `--server` sends to a server
already running instead (e.g. Postfix's smtp-sink, in C, to see the client's own ceiling); its
CPU is read from /proc when `--server-pid` names its process.

Not `bench/email.py`: a script's folder comes first on sys.path, so that name would stand in for
the standard library's `email` package for every script run from bench/.
"""

from __future__ import annotations

import argparse
import asyncio
import mailbox
import multiprocessing as mp
import os
import tempfile
import time
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, Protocol

import aiosmtplib
from aiosmtplib.email import flatten_message
from quiet import warn_if_busy  # bench/quiet.py: scripts run with bench/ first on sys.path

from channels.base import Attachment, ChannelAddress, Outgoing, Receipt
from channels.email import EmailChannel
from channels.smtp_pool import SmtpPool
from channels.smtp_sink import SmtpSink

PDF_KB = 50  # the attachment size
TEXT = "Geachte mevrouw, geachte heer,\n\nIn de bijlage vindt u uw vervaldagbericht.\n" * 8
HTML = "<p>Geachte mevrouw, geachte heer,</p><p>In de bijlage vindt u uw vervaldagbericht.</p>" * 8
SENDER = "Sociaal verzekeringsfonds <noreply@fonds.example>"
ENVELOPE = "noreply@fonds.example"
DOMAIN = "fonds.example"
VARIANTS = ("before", "comms")


class Sender(Protocol):
    async def send(self, outgoing: Outgoing) -> Receipt: ...
    async def close(self) -> None: ...


class Before:
    """The email channel before issue 7 (its build and send), kept as the bench's baseline."""

    def __init__(self, port: int, pool_size: int) -> None:
        self._pool = SmtpPool(
            lambda: aiosmtplib.SMTP(hostname="127.0.0.1", port=port, timeout=30.0),
            size=pool_size,
            fresh_s=0.0,  # a NOOP before every reuse, as the pool did
        )

    def build(self, outgoing: Outgoing) -> EmailMessage:
        assert outgoing.to.email
        msg = EmailMessage()
        msg["Subject"] = outgoing.subject
        msg["From"] = SENDER
        msg["To"] = Address(display_name=outgoing.to.label, addr_spec=outgoing.to.email)
        msg["Date"] = format_datetime(datetime.now(UTC))
        msg["Message-ID"] = f"<{outgoing.communication_id}@{DOMAIN}>"
        msg.set_content(outgoing.text)
        msg.add_alternative(outgoing.html, subtype="html")
        maintype, _, subtype = outgoing.document.content_type.partition("/")
        msg.add_attachment(
            outgoing.document.content,
            maintype=maintype,
            subtype=subtype,
            filename=outgoing.document.filename,
        )
        msg["Content-Language"] = outgoing.language
        return msg

    def serialise(self, outgoing: Outgoing) -> bytes:
        # What send_message did with a server offering 8BITMIME (aiosmtpd does).
        return flatten_message(self.build(outgoing))

    async def send(self, outgoing: Outgoing) -> Receipt:
        assert outgoing.to.email
        _, reply = await self._pool.sendmail(
            ENVELOPE, [outgoing.to.email], self.serialise(outgoing), mail_options=["BODY=8BITMIME"]
        )
        return Receipt("email", outgoing.communication_id, "dispatched", {"smtp_reply": reply})

    async def close(self) -> None:
        await self._pool.close()


def make_sender(variant: str, port: int, pool_size: int) -> Sender:
    if variant == "before":
        return Before(port, pool_size)
    return EmailChannel(
        host="127.0.0.1",
        port=port,
        sender=SENDER,
        message_id_domain=DOMAIN,
        pool_size=pool_size,
    )


def _sink(maildir: str, ports: Any, stop: Any) -> None:
    with SmtpSink(Path(maildir)) as sink:
        ports.put(sink.port)
        cpu0 = time.process_time()
        stop.wait()
        ports.put(time.process_time() - cpu0)


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


def pdf_bytes() -> bytes:
    return b"%PDF-1.7\n" + os.urandom(PDF_KB * 1024 - 9)  # random: no compression flatters it


async def send_all(port: int, messages: int, pool_size: int, variant: str) -> tuple[float, float]:
    """Wall and CPU seconds for `messages` sends, `pool_size` in flight at a time."""
    channel = make_sender(variant, port, pool_size)
    pdf = pdf_bytes()
    batch = [outgoing(i, pdf) for i in range(messages)]
    # Every connection's handshake before the clock starts: steady state is what is measured.
    await asyncio.gather(*(channel.send(outgoing(messages + i, pdf)) for i in range(pool_size)))
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


def process_cpu_s(pid: int) -> float:
    """User + system seconds of a process that is not ours (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_external(
    server: str, pid: int | None, messages: int, pool_size: int, variant: str
) -> dict[str, float]:
    host, _, port = server.rpartition(":")
    assert host == "127.0.0.1", "the bench sends to loopback only"
    cpu0 = process_cpu_s(pid) if pid else 0.0
    wall, cpu = asyncio.run(send_all(int(port), messages, pool_size, variant))
    server_cpu = process_cpu_s(pid) - cpu0 if pid else float("nan")
    return {
        "rate": messages / wall,
        "cpu_ms": 1000 * cpu / messages,
        "server_cpu_ms": 1000 * server_cpu / messages,
    }


def run(messages: int, pool_size: int, variant: str) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    with tempfile.TemporaryDirectory(prefix="bench-email-") as tmp:
        maildir = Path(tmp) / "Maildir"
        ports, stop = ctx.Queue(), ctx.Event()
        server = ctx.Process(target=_sink, args=(str(maildir), ports, stop))
        server.start()
        try:
            wall, cpu = asyncio.run(send_all(ports.get(timeout=30), messages, pool_size, variant))
        finally:
            stop.set()
        server_cpu = ports.get(timeout=30)
        server.join()
        filed = len(mailbox.Maildir(maildir, create=False))
    if filed != messages + pool_size:
        raise SystemExit(f"the sink filed {filed} messages, expected {messages + pool_size}")
    return {
        "rate": messages / wall,
        "cpu_ms": 1000 * cpu / messages,
        # The sink's CPU includes the warm-up messages and its idle start: a slight overcount.
        "server_cpu_ms": 1000 * server_cpu / messages,
    }


def serialise_only(messages: int, rounds: int) -> None:
    """CPU ms to make one message's bytes, old and new alternating message by message."""
    pdf = pdf_bytes()
    batch = [outgoing(i, pdf) for i in range(messages)]
    before = Before(port=0, pool_size=1)
    comms = EmailChannel(host="127.0.0.1", port=0, sender=SENDER, message_id_domain=DOMAIN)
    spent = {"before": 0.0, "comms": 0.0}
    for _ in range(rounds):
        for item in batch:
            for name, serialise in (("before", before.serialise), ("comms", comms.serialise)):
                cpu0 = time.process_time()
                serialise(item)
                spent[name] += time.process_time() - cpu0
    n = messages * rounds
    print(f"serialising {n:,} messages with a {PDF_KB} KB PDF, paired; load avg {load():.1f}")
    for name in VARIANTS:
        ratio = spent[name] / spent["before"]
        print(f"{name:>8}{1000 * spent[name] / n:>8.2f} ms/msg{ratio:>8.2f} × before")


def load() -> float:
    return os.getloadavg()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--pool-sizes", default="1,2,4,8,16")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--serialise-only", action="store_true")
    parser.add_argument("--rounds", type=int, default=3, help="with --serialise-only")
    parser.add_argument("--server", help="127.0.0.1:PORT of a running server, instead of the sink")
    parser.add_argument("--server-pid", type=int, help="its process, to read its CPU time")
    # Both variants always run; the flag stays so that older notes' commands still work.
    parser.add_argument("--proposed", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    warn_if_busy()
    if args.serialise_only:
        serialise_only(min(args.messages, 500), args.rounds)
        return
    variants = [v for v in VARIANTS if v in args.variants.split(",")]
    server = args.server or "channels/smtp_sink.py"
    print(f"{args.messages:,} messages with a {PDF_KB} KB PDF to {server}; {os.cpu_count()} cores")
    print(
        f"{'variant':>8}{'connections':>12}{'messages/s':>12}{'× before':>10}{'× comms@1':>11}"
        f"{'client CPU ms/msg':>19}{'server CPU ms/msg':>19}{'load avg':>10}"
    )
    rates: dict[tuple[str, int], float] = {}
    for size in (int(s) for s in args.pool_sizes.split(",")):
        for variant in variants:
            if args.server:
                r = run_external(args.server, args.server_pid, args.messages, size, variant)
            else:
                r = run(args.messages, size, variant)
            rates[variant, size] = r["rate"]
            vs_before = r["rate"] / rates[("before", size)] if ("before", size) in rates else None
            vs_one = r["rate"] / rates[("comms", 1)] if ("comms", 1) in rates else None
            print(
                f"{variant:>8}{size:>12}{r['rate']:>12.0f}{fmt(vs_before):>10}{fmt(vs_one):>11}"
                f"{r['cpu_ms']:>19.2f}{r['server_cpu_ms']:>19.2f}{load():>10.1f}",
                flush=True,
            )


def fmt(ratio: float | None) -> str:
    return "" if ratio is None else f"{ratio:.2f}"


if __name__ == "__main__":
    main()
