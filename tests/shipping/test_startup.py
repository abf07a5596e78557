"""How the processes start in a container: where the API listens, how a worker waits for Redis."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.net import HTTP, free_port
from tests.redisserver import start_redis
from tests.service.conftest import wait_for

COMMS = [sys.executable, "-m", "comms.cli"]


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMMS_")}
    return {
        **clean,
        "COMMS_DATA_DIR": str(tmp_path / "var"),
        "COMMS_LOG_FORMAT": "json",
        **settings,
    }


def _outward_address() -> str:
    """This machine's address on its network (no packet is sent: UDP connect only picks a route)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))
        except OSError:
            pytest.skip("this machine has no network address besides loopback")
        address: str = s.getsockname()[0]
    if address.startswith("127."):
        pytest.skip("this machine has no network address besides loopback")
    return address


def _answers(url: str) -> bool:
    try:
        HTTP.get(url, timeout=2.0)
    except httpx.TransportError:
        return False
    return True


def test_serve_stays_on_loopback_unless_told_and_the_image_setting_opens_it(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    outward = _outward_address()
    closed, opened = free_port(), free_port()
    started.append(subprocess.Popen([*COMMS, "serve", "--port", str(closed)], env=_env(tmp_path)))
    # What the image sets (Dockerfile): COMMS_API_HOST and COMMS_API_PORT, no command-line option.
    env = _env(tmp_path, COMMS_API_HOST="0.0.0.0", COMMS_API_PORT=str(opened))
    started.append(subprocess.Popen([*COMMS, "serve"], env=env))
    wait_for(lambda: _answers(f"http://127.0.0.1:{closed}/health"), 60, "the default API")
    wait_for(lambda: _answers(f"http://{outward}:{opened}/health"), 60, "the image's API")
    assert not _answers(f"http://{outward}:{closed}/health")


def test_worker_says_in_one_line_that_redis_is_away_and_gives_up_at_the_limit(
    tmp_path: Path,
) -> None:
    port = free_port()  # nothing listens there
    env = _env(
        tmp_path,
        COMMS_REDIS_URL=f"redis://:hunter2@127.0.0.1:{port}/3",
        COMMS_WORKER_REDIS_WAIT_S="4",
        COMMS_RENDER_POOL="false",
    )
    started = time.monotonic()
    result = subprocess.run(
        [*COMMS, "worker", "--burst"], env=env, capture_output=True, text=True, timeout=60
    )
    took = time.monotonic() - started
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output
    assert "hunter2" not in output
    tries = [line for line in output.splitlines() if "retrying" in line]
    assert len(tries) >= 2, output  # waits 1 s, then 2 s, then the limit
    assert all(f"127.0.0.1:{port}/3" in line for line in tries), output
    last = result.stderr.strip().splitlines()[-1]
    assert f"Redis at 127.0.0.1:{port}/3" in last and "4 s" in last, output
    assert 4 <= took < 55  # the limit, then out; generous for a loaded CI machine


def test_worker_started_before_redis_goes_on_once_redis_answers(tmp_path: Path) -> None:
    port = free_port()
    env = _env(
        tmp_path,
        COMMS_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        COMMS_WORKER_REDIS_WAIT_S="60",
        COMMS_RENDER_POOL="false",
    )
    worker = subprocess.Popen(
        [*COMMS, "worker", "--burst"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert worker.stdout is not None
    redis = None
    try:
        before = []
        for line in worker.stdout:  # the worker's lines, until it says it waits
            before.append(line.decode(errors="replace"))
            if "retrying" in before[-1]:
                break
        assert worker.poll() is None, "".join(before)
        redis = start_redis(port, tmp_path)
        output, _ = worker.communicate(timeout=90)
    finally:
        worker.kill()
        if redis is not None:
            redis.terminate()
            redis.wait(timeout=10)
    text = output.decode(errors="replace")
    assert worker.returncode == 0, text
    assert "worker started" in text and "Traceback" not in "".join(before) + text
