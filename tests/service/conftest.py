"""Service fixtures: a Redis database per xdist worker, the loopback stand-ins, and real processes.

`stack` starts the SMTP sink and the eBox simulator in this process, and `comms serve` and
`comms worker` as subprocesses pointed at them, at one SQLite ledger and at our Redis database.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import sqlalchemy as sa

from comms.api.auth import token_digest
from comms.embedded import Embedded, embedded_services
from comms.ledger import Ledger
from comms.ledger.schema import entries
from comms.samples import load_sample
from comms.settings import Settings, load_settings
from tests.net import HTTP, free_port

REDIS_HOST = "127.0.0.1:6379"
CLAIMS_DB = 8  # holds `comms:test:db:<n>` claims, nothing else
TEST_DBS = (10, 11, 12, 13, 14, 5, 6, 7, 1, 2, 3, 4)  # 0: the default; 9, 15: benches
CLAIM_TTL_S = 1800  # a crashed run's claim lapses; each test renews it
CLAIM_WAIT_S = 300.0
PRODUCER_TOKEN = "producer-token"
OPERATOR_TOKEN = "operator-token"
COMPLIANCE_TOKEN = "compliance-token"
SENT = ("dispatched", "delivered", "read")
# The sample members' personal data: never in a log (domain §1, §9).
PERSONAL = ("An Peeters", "85073003328", "an.peeters@example.org", "Kerkstraat", "Luc Dubois")
REPO = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT_S = 120.0


# Tests that start worker processes run one at a time within a group; two groups of about the
# same time, started first by xdist: two of `./dev test`'s four processes run one stack each while
# the other two run the rest of the suite in the time the stacks spend waiting.
WORKERS_A = pytest.mark.xdist_group("service-workers-a")
WORKERS_B = pytest.mark.xdist_group("service-workers-b")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "heavy: real worker processes over a batch; slow but part of CI"
    )


def api_users() -> list[dict[str, Any]]:
    return [
        {"name": "upstream", "roles": ["producer"], "token_sha256": token_digest(PRODUCER_TOKEN)},
        {"name": "ops", "roles": ["operator"], "token_sha256": token_digest(OPERATOR_TOKEN)},
        {"name": "alice", "roles": ["compliance"], "token_sha256": token_digest(COMPLIANCE_TOKEN)},
    ]


@pytest.fixture(scope="session")
def redis_db() -> Iterator[int]:
    """A Redis database this test process owns for the session.

    Several test runs may share one Redis (engineers on one machine, CI jobs on one host): each
    process claims a free database with SET NX in the claims database, keeps the claim alive, and
    releases it at the end, so no run ever sees another's jobs or flushes them.
    """
    claims = redis.Redis.from_url(f"redis://{REDIS_HOST}/{CLAIMS_DB}", socket_connect_timeout=2)
    token = f"{socket.gethostname()}:{os.getpid()}:{time.time_ns()}"
    try:
        claims.ping()
    except redis.ConnectionError:
        claims.close()
        if os.environ.get("COMMS_TEST_REQUIRE_SERVICES") == "1":
            pytest.fail(f"Redis is not reachable at {REDIS_HOST}")
        pytest.skip(f"Redis is not reachable at {REDIS_HOST}")
    deadline = time.monotonic() + CLAIM_WAIT_S
    db = None
    while db is None:
        db = next(
            (
                n
                for n in TEST_DBS
                if claims.set(f"comms:test:db:{n}", token, nx=True, ex=CLAIM_TTL_S)
            ),
            None,
        )
        if db is None:
            assert time.monotonic() < deadline, f"every test database {TEST_DBS} is claimed"
            time.sleep(1)
    try:
        yield db
    finally:
        if claims.get(f"comms:test:db:{db}") == token.encode():
            claims.delete(f"comms:test:db:{db}")
        claims.close()


@pytest.fixture
def redis_url(redis_db: int) -> Iterator[str]:
    """Our own Redis database, empty at the start and the end of the test."""
    url = f"redis://{REDIS_HOST}/{redis_db}"
    claims = redis.Redis.from_url(f"redis://{REDIS_HOST}/{CLAIMS_DB}")
    claims.expire(f"comms:test:db:{redis_db}", CLAIM_TTL_S)  # still ours
    claims.close()
    client = redis.Redis.from_url(url, socket_connect_timeout=2)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@pytest.fixture
def service_settings(tmp_path: Path, redis_url: str) -> Settings:
    return load_settings(
        environment="test",
        data_dir=tmp_path / "var",
        redis_url=redis_url,
        api_users=api_users(),
        retry_base_s=0.5,
        retry_max_delay_s=1.0,
    )


def event(name: str, event_id: str, **changes: Any) -> dict[str, Any]:
    """A sample under another id, with top-level changes."""
    raw = load_sample(name)
    raw["event_id"] = event_id
    raw.update(changes)
    return raw


def wait_for(check: Callable[[], bool], timeout_s: float, what: str, every_s: float = 0.2) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(every_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


@dataclass
class Proc:
    """A `comms` subprocess and the file its output goes to."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


@dataclass
class Stack:
    """The service on loopback: stand-ins here, API and workers as real processes."""

    settings: Settings
    emb: Embedded
    tmp: Path
    procs: list[Proc] = field(default_factory=list)
    api_url: str = ""
    _ledger: Ledger | None = None

    # --- processes ------------------------------------------------------------------------------

    def env(self, **overrides: Any) -> dict[str, str]:
        s = self.emb.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMMS_")}
        env.update(
            {
                "COMMS_ENVIRONMENT": "test",
                "COMMS_DATA_DIR": str(s.data_dir),
                "COMMS_REDIS_URL": s.redis_url,
                "COMMS_SMTP_HOST": s.smtp_host,
                "COMMS_SMTP_PORT": str(s.smtp_port),
                "COMMS_EBOX_BASE_URL": s.ebox_base_url,
                "COMMS_EBOX_TOKEN_URL": s.ebox_token_url,
                "COMMS_EBOX_FEDERATION_URL": s.ebox_federation_url,
                "COMMS_API_USERS": json.dumps(api_users()),
                "COMMS_RETRY_BASE_S": "0.5",
                "COMMS_RETRY_MAX_DELAY_S": "1",
                "COMMS_JOB_TIMEOUT_S": "20",
                "COMMS_STUCK_AFTER_S": "30",
                "COMMS_SWEEP_EVERY_S": "2",
                "COMMS_SHUTDOWN_GRACE_S": "30",
                "COMMS_LOG_LEVEL": "INFO",
                # Each worker renders in one warm process: tests start many workers on 2 cores.
                "COMMS_RENDER_PROCESSES": "1",
            }
        )
        env.update({f"COMMS_{k.upper()}": str(v) for k, v in overrides.items()})
        return env

    def spawn(self, name: str, argv: list[str], env: dict[str, str]) -> Proc:
        log = self.tmp / f"{name}-{len(self.procs)}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_api(self, **overrides: Any) -> Proc:
        port = free_port()
        cmd = [sys.executable, "-m", "comms.cli", "serve", "--port", str(port)]
        proc = self.spawn("api", cmd, self.env(**overrides))
        self.api_url = f"http://127.0.0.1:{port}"

        def answers() -> bool:
            assert proc.alive(), f"comms serve exited:\n{proc.tail()}"
            try:
                return HTTP.get(self.api_url + "/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, STARTUP_TIMEOUT_S, "comms serve to answer")
        return proc

    def start_worker(
        self,
        *queues: str,
        command: list[str] | None = None,
        extra_env: dict[str, str] | None = None,
        wait: bool = True,
        **overrides: Any,
    ) -> Proc:
        argv = command or [sys.executable, "-m", "comms.cli", "worker"]
        for q in queues:
            argv += ["--queue", q]
        proc = self.spawn("worker", argv, {**self.env(**overrides), **(extra_env or {})})
        if wait:
            keys = [f"comms:{q}:health-check" for q in queues or ("urgent", "bulk")]
            r = self.redis()

            def ready() -> bool:
                assert proc.alive(), f"comms worker exited:\n{proc.tail()}"
                # arq writes its health key at its first poll; a fresh process may find an old one.
                return bool(all(r.exists(k) for k in keys)) and "worker started" in proc.tail(200)

            wait_for(ready, STARTUP_TIMEOUT_S, "comms worker to poll")
        return proc

    def stop(self, proc: Proc, sig: int = signal.SIGTERM, timeout_s: float = 60.0) -> int:
        if proc.alive():
            proc.popen.send_signal(sig)
        return proc.popen.wait(timeout=timeout_s)

    def close(self) -> None:
        for proc in self.procs:
            if proc.alive():
                proc.popen.kill()
                proc.popen.wait(timeout=10)
        if self._ledger is not None:
            self._ledger.close()

    # --- talking to it --------------------------------------------------------------------------

    def headers(self, token: str = PRODUCER_TOKEN) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    def post(self, raw: dict[str, Any] | str) -> httpx.Response:
        body = raw if isinstance(raw, str) else json.dumps(raw)
        return HTTP.post(self.api_url + "/events", content=body, headers=self.headers(), timeout=30)

    def get_status(self, event_id: str) -> dict[str, Any]:
        r = HTTP.get(f"{self.api_url}/events/{event_id}", headers=self.headers(), timeout=10)
        r.raise_for_status()
        body: dict[str, Any] = r.json()
        return body

    def post_many(self, events: list[dict[str, Any]], concurrency: int = 8) -> list[int]:
        """Posts concurrently (as several upstream clients would); the status codes, in order."""

        async def go() -> list[int]:
            limit = asyncio.Semaphore(concurrency)
            async with httpx.AsyncClient(
                base_url=self.api_url, headers=self.headers(), timeout=60
            ) as client:

                async def one(raw: dict[str, Any]) -> int:
                    async with limit:
                        r = await client.post("/events", content=json.dumps(raw))
                        return r.status_code

                return list(await asyncio.gather(*(one(e) for e in events)))

        return asyncio.run(go())

    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url)

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger.from_settings(self.settings)
        return self._ledger

    # --- what a user would check ----------------------------------------------------------------

    def sent_rows(self) -> Counter[str]:
        """How many times each event reached a sent state on any channel (the ledger's word)."""
        stmt = sa.select(entries.c.event_id).where(entries.c.status.in_(SENT))
        with self.ledger.engine.connect() as conn:
            return Counter(row.event_id for row in conn.execute(stmt))

    def sent_by_channel(self) -> dict[str, list[str]]:
        stmt = (
            sa.select(entries.c.event_id, entries.c.channel)
            .where(entries.c.status.in_(SENT))
            .order_by(entries.c.seq)
        )
        out: dict[str, list[str]] = {}
        with self.ledger.engine.connect() as conn:
            for row in conn.execute(stmt):
                out.setdefault(row.event_id, []).append(row.channel)
        return out

    def row_count(self) -> int:
        with self.ledger.engine.connect() as conn:
            return int(conn.execute(sa.select(sa.func.count()).select_from(entries)).scalar_one())

    def mail_ids(self) -> list[str]:
        """The Message-ID of every email the SMTP server received (headers only: fast)."""
        parser = BytesHeaderParser()
        ids = []
        for folder in ("new", "cur"):
            for path in (self.emb.maildir / folder).glob("*"):
                with path.open("rb") as f:
                    ids.append(str(parser.parse(f)["Message-ID"]))
        return ids

    def ebox_keys(self) -> list[str]:
        return [m["idempotencyKey"] for m in self.emb.ebox.messages()]

    def all_logs(self) -> str:
        """Everything the API and worker processes wrote (their logs)."""
        return "\n".join(p.log.read_text(errors="replace") for p in self.procs if p.log.exists())

    def queues_drained(self) -> bool:
        """No `deliver` job waiting or running (cron jobs come and go on their own)."""
        r = self.redis()
        queued = r.zrange("comms:urgent", 0, -1) + r.zrange("comms:bulk", 0, -1)
        return not any(job.startswith(b"deliver:") for job in queued)

    def wait_sent(self, event_ids: set[str], timeout_s: float, procs: list[Proc]) -> None:
        def done() -> bool:
            for p in procs:
                assert p.alive(), f"{p.name} died:\n{p.tail()}"
            return event_ids <= set(self.sent_rows())

        try:
            wait_for(done, timeout_s, f"{len(event_ids)} events to be sent", every_s=0.5)
        except AssertionError:
            missing = len(event_ids - set(self.sent_rows()))
            logs = "\n".join(f"--- {p.name} {p.pid}\n{p.tail(15)}" for p in procs)
            raise AssertionError(
                f"{missing} events not sent in {timeout_s:.0f} s\n{logs}"
            ) from None


@pytest.fixture
def stack(service_settings: Settings, tmp_path: Path) -> Iterator[Stack]:
    with embedded_services(service_settings) as emb:
        s = Stack(settings=emb.settings, emb=emb, tmp=tmp_path)
        try:
            yield s
        finally:
            s.close()
