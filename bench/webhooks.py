"""Webhooks under load: 10,000 state changes, the receiver stopped for part of the run.

    python bench/webhooks.py [--changes 10000] [--database-url URL]

Letters are stood in for by their ledger writes (accept, routed, rendered, dispatched, delivered:
three of them reported upstream), made by this process as fast as it can, twice: once with no
dispatcher (the baseline), once with `comms webhooks run` in its own process posting to a receiver
(another process) that is stopped for the middle third of the run and started again. Printed: the
letters' throughput with the dispatcher ÷ without (1.00 = unchanged), and once the dispatcher has
caught up, how many changes the receiver got: 0 lost is the claim, duplicates are allowed (at
least once) and counted.
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
from comms.ledger.privacy import Sealer
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


def letters(ledger: Ledger, prefix: str, count: int, between: list[tuple[int, object]]) -> float:
    """Writes `count` letters' rows; calls each `between` hook after its letter. Returns seconds."""
    hooks = dict(between)
    started = time.perf_counter()
    for n in range(count):
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
            ledger.record(
                event_id=event_id,
                status=status,
                communication_id=cid,
                channel=ChannelName.POST,
                evidence={"posted_on": "2026-12-04"} if status is Status.DELIVERED else {},
            )
        hook = hooks.get(n)
        if callable(hook):
            hook()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--database-url", default="")
    args = parser.parse_args()
    warn_if_busy()
    count = -(-args.changes // REPORTED_PER_LETTER)
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/ledger.db"
        received = Path(tmp) / "received.txt"
        received.touch()
        port = free_port()
        env = os.environ | {
            "COMMS_DATABASE_URL": url,
            "COMMS_HMAC_SECRET": SECRET,
            "COMMS_DATA_DIR": f"{tmp}/var",
            "COMMS_WEBHOOK_RETRY_SCHEDULE_S": json.dumps(RETRIES),
            "COMMS_WEBHOOK_POLL_S": "0.2",
            "COMMS_LOG_LEVEL": "ERROR",
        }
        with Ledger(url, SECRET) as ledger:
            ledger.migrate()
            baseline_s = letters(ledger, "base", count, [])
            store = WebhookStore(ledger.engine, Sealer(SECRET.encode()), NotificationPolicy())
            store.register("bench", f"http://127.0.0.1:{port}/", ["accepted", "sent", "delivered"])

            def start_receiver() -> subprocess.Popen[bytes]:
                command = [sys.executable, __file__, "--receiver", str(port), str(received)]
                return subprocess.Popen(command, env=env)

            box = {"receiver": start_receiver()}

            def stop_receiver() -> None:
                box["receiver"].send_signal(signal.SIGTERM)
                box["receiver"].wait()

            def restart_receiver() -> None:
                box["receiver"] = start_receiver()

            comms = Path(sys.executable).with_name("comms")
            dispatcher = subprocess.Popen([str(comms), "webhooks", "run"], env=env)
            try:
                third = count // 3
                loaded_s = letters(
                    ledger, "load", count, [(third, stop_receiver), (2 * third, restart_receiver)]
                )
                expected = count * REPORTED_PER_LETTER
                ended = time.monotonic()
                while time.monotonic() < ended + 600:
                    if len(set(received.read_text().split())) >= expected:
                        break
                    time.sleep(1)
                caught_up_s = time.monotonic() - ended
            finally:
                dispatcher.send_signal(signal.SIGTERM)
                dispatcher.wait(30)
                box["receiver"].send_signal(signal.SIGTERM)
                box["receiver"].wait()
            ids = received.read_text().split()
            dead = len(store.messages(state="dead", limit=1000))
    print(f"letters: {count} per run ({count * 5} ledger rows)")
    print(f"  without dispatcher: {count / baseline_s:8.1f} letters/s")
    print(f"  with dispatcher:    {count / loaded_s:8.1f} letters/s")
    print(f"  ratio (with ÷ without): {baseline_s / loaded_s:.2f}")
    distinct = len(set(ids))
    print(
        f"changes expected {expected}, received {distinct} distinct, lost {expected - distinct},"
        f" duplicates {len(ids) - distinct}, dead letters {dead}"
    )
    print(f"  receiver caught up {caught_up_s:.1f} s after the letters ended")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--receiver":
        receiver(int(sys.argv[2]), Path(sys.argv[3]))
    else:
        main()
