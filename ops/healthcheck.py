"""The image's HEALTHCHECK: asks the process that PID 1 runs (API, bounce receiver or worker).

The API answers `GET /health` (200 only when the database and Redis answer); the bounce receiver
must greet an SMTP connection; a worker must serve its metrics (COMMS_WORKER_METRICS_PORT); the
webhook dispatcher listens nowhere, so its heartbeat file (touched after every round) must be
younger than HEARTBEAT_MAX_S: a stopped, hung or crashed loop shows. Only the standard
library: it runs every 30 s and must not import the service. The argument (tests) names another
process's command line.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.request
from pathlib import Path

TIMEOUT_S = 4.0
HEARTBEAT_MAX_S = 120.0  # rounds come every COMMS_WEBHOOK_POLL_S (1 s) when idle


def main(cmdline: str = "/proc/1/cmdline") -> int:
    try:
        args = Path(cmdline).read_bytes().split(b"\0")
        if b"webhooks" in args:
            beat = Path(os.environ.get("COMMS_DATA_DIR", "var")) / "webhooks.heartbeat"
            return 0 if time.time() - beat.stat().st_mtime < HEARTBEAT_MAX_S else 1
        if b"bounces" in args:
            port = int(os.environ.get("COMMS_BOUNCE_LISTEN_PORT", "8026"))
            with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_S) as s:
                return 0 if s.recv(3) == b"220" else 1
        if b"serve" in args:
            url = f"http://127.0.0.1:{os.environ.get('COMMS_API_PORT', '8000')}/health"
        else:
            url = f"http://127.0.0.1:{os.environ.get('COMMS_WORKER_METRICS_PORT', '9100')}/metrics"
        with urllib.request.urlopen(url, timeout=TIMEOUT_S) as answer:  # noqa: S310 - loopback
            return 0 if answer.status == 200 else 1
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
