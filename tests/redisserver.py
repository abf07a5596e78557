"""A Redis server of a test's own, on a port of its own, with nothing kept on disk."""

from __future__ import annotations

import subprocess
from pathlib import Path


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """`redis-server` on 127.0.0.1:`port`, working in `folder`; the caller terminates it."""
    return subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        stdout=subprocess.DEVNULL,
        cwd=folder,
    )
