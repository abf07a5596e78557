"""A PostgreSQL server of the test's own, for tests that stop and restart the database.

Never the shared server on 5432: `initdb` in a fresh folder, `pg_ctl` on a free port, run as the
`postgres` system user when the tests run as root (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.net import free_port

SYSTEM_USER = "postgres"
START_TIMEOUT_S = 60  # pg_ctl -w waits at most this long for the server to accept connections


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_major)
    return Path(found[-1]).parent if found else None


def _major(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


class PgServer:
    """One throwaway cluster: `start`, `stop`, `restart`, and a URL per database."""

    def __init__(self, bin_dir: Path, root: Path) -> None:
        self.bin_dir = bin_dir
        self.root = root
        self.data = root / "data"
        self.log = root / "server.log"
        self.port = free_port()
        self.running = False

    def _run(self, tool: str, *args: str) -> None:
        argv = [str(self.bin_dir / tool), *args]
        if os.geteuid() == 0:
            argv = ["runuser", "-u", SYSTEM_USER, "--", *argv]
        subprocess.run(argv, check=True, capture_output=True, timeout=START_TIMEOUT_S + 30)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync")

    def start(self) -> None:
        if self.running:
            return
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w",
            "-t", str(START_TIMEOUT_S), "start",
        )  # fmt: skip
        self.running = True

    def stop(self) -> None:
        """`pg_ctl stop -m fast`: every session is cut, as in a failover or a restart."""
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
        self.running = False

    def restart(self) -> None:
        self.stop()
        self.start()

    def start_after(self, delay_s: float) -> threading.Timer:
        """Starts the server again in `delay_s`, from a thread: the outage ends on its own."""
        timer = threading.Timer(delay_s, self.start)
        timer.start()
        return timer

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        engine = sa.create_engine(self.url(), isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as conn:
                conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        finally:
            engine.dispose()
        return self.url(name)


@contextlib.contextmanager
def own_server() -> Iterator[PgServer]:
    """A started server in a fresh folder, stopped and removed at the end."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        if os.environ.get("COMMS_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
        pytest.skip("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    root = Path(tempfile.mkdtemp(prefix="comms-pg-"))
    if os.geteuid() == 0:
        shutil.chown(root, SYSTEM_USER, SYSTEM_USER)
    server = PgServer(bin_dir, root)
    try:
        server.init()
        server.start()
        yield server
    finally:
        if server.running:
            with contextlib.suppress(subprocess.SubprocessError):
                server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """This test process's own PostgreSQL (per xdist worker); tests may stop and restart it."""
    with own_server() as server:
        yield server


@pytest.fixture
def own_pg_url(pg_server: PgServer) -> str:
    """An empty database on the test process's own server, for one test."""
    return pg_server.create_database(f"t_{os.urandom(6).hex()}")
