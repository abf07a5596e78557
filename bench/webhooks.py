"""Webhooks under load: 10,000 state changes, the receiver stopped for part of the run.

    python bench/webhooks.py [--changes 10000] [--segments 4] [--database-url URL]

Letters are stood in for by their ledger writes (accept, routed, rendered, dispatched, delivered:
three of them reported upstream), made by this process as fast as it can, in alternating
segments: the dispatcher (`comms webhooks run`, its own process) frozen with SIGSTOP, then
running, then frozen... so that a machine whose speed drifts treats both alike. The receiver
(another process) is stopped in the first running segment and started in the last one. Printed: the
letters' throughput with the dispatcher running ÷ frozen (1.00 = unchanged), and once it has
caught up: changes received (distinct), still pending, dead, and lost (never queued for the
receiver at all: the claim is 0); duplicates are allowed (at least once) and counted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quiet import warn_if_busy  # bench/quiet.py: scripts run with bench/ first on sys.path

from comms.ledger import Ledger
from comms.models import ChannelName, Language, Status, producer_source
from comms.notification import NotificationPolicy
from comms.webhooks import WebhookStore

SECRET = "bench-webhooks-secret"  # noqa: S105 - a throwaway ledger
REPORTED_PER_LETTER = 3  # accepted, sent, delivered
RETRIES = [0.5, 1, 1, 2, 2, 5, 5, 10, 10, 30, 30, 60]  # catches up within the bench


def receiver(port: int, out: Path) -> None:
    """Child process: answers 204 and appends each `webhook-id` to `out`."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    sink = out.open("a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length", "0")))
            sink.write(self.headers["webhook-id"] + "\n")
            self.send_response(204)
            self.end_headers()

        def log_message(self, *_: object) -> None:
            pass

    ThreadingHTTPServer.allow_reuse_address = True
    ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def letters(ledger: Ledger, prefix: str, first: int, count: int) -> float:
    """Writes `count` letters' rows; returns the seconds it took."""
    started = time.perf_counter()
    for n in range(first, first + count):
        event_id = f"{prefix}-{n}"
        snapshot = json.dumps({"event_id": event_id, "n": n})
        ledger.accept_event(
            event_id=event_id,
            doc_type="tax_certificate",
            content_sha256=hashlib.sha256(snapshot.encode()).hexdigest(),
            snapshot_json=snapshot,
            subject_id="85073003328",
            dossier=f"D-{n}",
            language=Language.NL,
            source=producer_source("bench"),  # as the HTTP intake chains who sent it
        )
        cid = f"{event_id}:post"
        for status in (Status.ROUTED, Status.RENDERED, Status.DISPATCHED, Status.DELIVERED):
            own = status is not Status.RENDERED  # the document is the event's, not the channel's
            ledger.record(
                event_id=event_id,
                status=status,
                communication_id=cid if own else None,
                channel=ChannelName.POST if own else None,
                evidence={"posted_on": "2026-12-04"} if status is Status.DELIVERED else {},
            )
    return time.perf_counter() - started


class Receiver:
    """The receiving process; stopped and started again on the same port."""

    def __init__(self, port: int, out: Path, env: dict[str, str]) -> None:
        self.command = [sys.executable, __file__, "--receiver", str(port), str(out)]
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(self.command, env=self.env)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait()
            self.process = None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--segments", type=int, default=4, help="even: frozen, running, ...")
    parser.add_argument("--wait", type=float, default=900.0, help="seconds to let it catch up")
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    warn_if_busy()
    count = -(-args.changes // REPORTED_PER_LETTER)
    per_segment = -(-count // args.segments)
    timings: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/ledger.db"
        received = Path(tmp) / "received.txt"
        received.touch()
        env = os.environ | {
            "COMMS_DATABASE_URL": url,
            "COMMS_HMAC_SECRET": SECRET,
            "COMMS_DATA_DIR": f"{tmp}/var",
            "COMMS_WEBHOOK_RETRY_SCHEDULE_S": json.dumps(RETRIES),
            "COMMS_WEBHOOK_POLL_S": "0.2",
            "COMMS_LOG_LEVEL": "ERROR",
        }
        port = free_port()
        receiver_process = Receiver(port, received, env)
        with Ledger(url, SECRET) as ledger:
            ledger.migrate()
            store = WebhookStore(ledger.engine, ledger.sealer, NotificationPolicy())
            store.register("bench", f"http://127.0.0.1:{port}/", ["accepted", "sent", "delivered"])
            receiver_process.start()
            comms = Path(sys.executable).with_name("comms")
            dispatcher = subprocess.Popen([str(comms), "webhooks", "run"], env=env)
            try:
                written = 0
                for segment in range(args.segments):
                    running = segment % 2 == 1
                    dispatcher.send_signal(signal.SIGCONT if running else signal.SIGSTOP)
                    if segment == 1:
                        receiver_process.stop()  # down while the dispatcher runs: it retries
                    if segment == args.segments - 1 and receiver_process.process is None:
                        receiver_process.start()  # back for the last running segment
                    size = min(per_segment, count - written)
                    timings[running].append(letters(ledger, "e", written, size) / max(size, 1))
                    written += size
                dispatcher.send_signal(signal.SIGCONT)
                if receiver_process.process is None:
                    receiver_process.start()
                expected = written * REPORTED_PER_LETTER
                ended = time.monotonic()
                while time.monotonic() < ended + args.wait:
                    if len(set(received.read_text().split())) >= expected:
                        break
                    time.sleep(1)
                caught_up_s = time.monotonic() - ended
            finally:
                dispatcher.send_signal(signal.SIGCONT)
                dispatcher.send_signal(signal.SIGTERM)
                dispatcher.wait(30)
                receiver_process.stop()
            ids = received.read_text().split()
            pending, dead = store.count("pending"), store.count("dead")
            queued = store.count()
    distinct = len(set(ids))
    frozen_s, running_s = (sum(timings[k]) / len(timings[k]) for k in (False, True))
    print(f"letters: {written} ({written * 5} ledger rows) in {args.segments} alternating segments")
    print(f"  dispatcher frozen:  {1 / frozen_s:8.1f} letters/s")
    print(f"  dispatcher running: {1 / running_s:8.1f} letters/s")
    print(f"  ratio (running ÷ frozen): {frozen_s / running_s:.2f}")
    lost = expected - distinct - pending - dead
    print(
        f"changes expected {expected}: received {distinct} distinct, pending {pending},"
        f" dead {dead}, lost {lost}; duplicates {len(ids) - distinct}" + f"; outbox rows {queued}"
    )
    print(f"  caught up {caught_up_s:.1f} s after the letters ended")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--receiver":
        receiver(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
