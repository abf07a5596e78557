"""The image's HEALTHCHECK (ops/healthcheck.py) against real processes, by the role PID 1 runs."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from comms.settings import REPO_ROOT
from tests.net import HTTP, free_port
from tests.redisserver import start_redis
from tests.service.conftest import wait_for

COMMS = [sys.executable, "-m", "comms.cli"]
HEALTHCHECK = REPO_ROOT / "ops" / "healthcheck.py"


def _env(tmp_path: Path, **settings: str) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COMMS_")}
    return {**clean, "COMMS_DATA_DIR": str(tmp_path / "var"), **settings}


def _pid1(tmp_path: Path, *args: str) -> Path:
    """A stand-in for /proc/1/cmdline: which command the container runs (the check picks by it)."""
    proc = tmp_path / "proc1"
    proc.mkdir(exist_ok=True)
    (proc / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in args))
    return proc / "cmdline"


def healthy(cmdline: Path, env: dict[str, str]) -> bool:
    check = [sys.executable, str(HEALTHCHECK), str(cmdline)]
    return subprocess.run(check, env=env, capture_output=True, timeout=30).returncode == 0


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    """A Redis of this test's own: the processes it starts are not told apart by database."""
    port = free_port()
    server = start_redis(port, tmp_path)
    try:
        wait_for(lambda: _listening(port), 30, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=30)


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_the_api_is_healthy_when_it_answers_with_its_database_and_redis(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], redis_url: str
) -> None:
    cmdline = _pid1(tmp_path, "comms", "serve")
    ok_port, away_port = free_port(), free_port()
    env = _env(tmp_path, COMMS_API_PORT=str(ok_port), COMMS_REDIS_URL=redis_url)
    assert not healthy(cmdline, env)  # nothing listens yet
    started.append(subprocess.Popen([*COMMS, "serve"], env=env))
    wait_for(lambda: healthy(cmdline, env), 90, "a healthy API")
    away = _env(
        tmp_path,
        COMMS_API_PORT=str(away_port),
        COMMS_REDIS_URL=f"redis://127.0.0.1:{free_port()}/0",
    )
    started.append(subprocess.Popen([*COMMS, "serve"], env=away))

    def answers_503() -> bool:
        try:
            return HTTP.get(f"http://127.0.0.1:{away_port}/health", timeout=10).status_code == 503
        except httpx.TransportError:
            return False

    wait_for(answers_503, 90, "the API without Redis")
    assert not healthy(cmdline, away)


def test_the_bounce_receiver_is_healthy_when_it_greets(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    cmdline = _pid1(tmp_path, "comms", "bounces", "serve")
    env = _env(tmp_path, COMMS_BOUNCE_LISTEN_PORT=str(free_port()))
    assert not healthy(cmdline, env)
    started.append(subprocess.Popen([*COMMS, "bounces", "serve"], env=env))
    wait_for(lambda: healthy(cmdline, env), 90, "a bounce receiver that greets")


def test_a_worker_is_healthy_when_it_serves_its_metrics(
    tmp_path: Path, started: list[subprocess.Popen[bytes]], redis_url: str
) -> None:
    cmdline = _pid1(tmp_path, "comms", "worker")
    env = _env(
        tmp_path,
        COMMS_WORKER_METRICS_PORT=str(free_port()),
        COMMS_REDIS_URL=redis_url,
        COMMS_RENDER_POOL="false",
    )
    assert not healthy(cmdline, env)
    started.append(subprocess.Popen([*COMMS, "worker"], env=env))
    wait_for(lambda: healthy(cmdline, env), 90, "a worker serving its metrics")


def test_the_webhook_dispatcher_is_healthy_while_its_rounds_go_on(
    tmp_path: Path, started: list[subprocess.Popen[bytes]]
) -> None:
    """A real `comms webhooks run`: healthy once its loop beats; stopped (SIGSTOP), its heartbeat
    grows old and the check says so (the file's age is moved on rather than waited out)."""
    cmdline = _pid1(tmp_path, "comms", "webhooks", "run")
    env = _env(tmp_path)
    assert not healthy(cmdline, env)  # no round yet: no heartbeat
    dispatcher = subprocess.Popen([*COMMS, "webhooks", "run"], env=env)
    started.append(dispatcher)
    wait_for(lambda: healthy(cmdline, env), 90, "the dispatcher's first rounds")

    dispatcher.send_signal(signal.SIGSTOP)
    try:
        beat = tmp_path / "var" / "webhooks.heartbeat"
        old = time.time() - 600
        os.utime(beat, (old, old))
        assert not healthy(cmdline, env)
    finally:
        dispatcher.send_signal(signal.SIGCONT)
    wait_for(lambda: healthy(cmdline, env), 30, "the dispatcher beating again")
