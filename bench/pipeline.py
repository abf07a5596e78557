"""Events per second end to end (API → Redis → worker → SMTP sink → ledger), against rendering alone.

    python bench/pipeline.py [--events 300] [--redis redis://127.0.0.1:6379/9]
                             [--database-url postgresql+psycopg://postgres@127.0.0.1/comms_bench]

Three layouts of the same two cores, each also measured as rendering alone (the render pool with
as many processes, the same letters, in this process) so that the pipeline's overhead shows:
- 1 worker with 1 render process (the baseline);
- 2 workers with 1 render process each (scale-out: what adding a machine's worker does);
- 1 worker with 2 render processes (the default: one render process per core).
Each round gets a fresh data folder (SQLite ledger unless --database-url, archive) and a flushed
Redis database, starts the loopback SMTP sink here and `comms serve` and the workers, posts the
events (tax certificates, one page, by email) with 8 concurrent clients, and stops the clock when
the ledger holds a `dispatched` row for every one. A second table splits the CPU each event cost
by process (API, worker, render processes, Redis, this bench's SMTP sink and clients), read from
the processes themselves before the first post and after the last `dispatched` row.

    python bench/pipeline.py --machine-cpu 0.8     # as root: 1 worker machine against 2
    python bench/pipeline.py --claims both         # each layout with arq's claim walk, then sifted
    python bench/pipeline.py --rounds 3            # layouts alternated 3 times: medians of ratios

With `--machine-cpu`, each worker and its one render process run in a CPU cgroup capped at that
many cores, standing in for a worker machine of its own, while the API, Redis, the sink and the
clients run outside those caps, as in production. That is scale-out measured on one machine.

With `--claims both`, each layout runs twice, first with arq's own claim walk
(`COMMS_WORKER_SIFT_CLAIMS=false`), then as comms runs it (comms/service/claims.py), so that the
Redis commands and WATCHes per event show what sifting saves.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any, cast

import httpx
import psutil
import redis
import sqlalchemy as sa
from quiet import warn_if_busy  # bench/quiet.py: scripts run with bench/ first on sys.path

from channels.smtp_sink import SmtpSink
from comms.api.auth import token_digest
from comms.compose.pool import RenderPool
from comms.events import parse_event
from comms.ledger import Ledger
from comms.ledger.schema import entries
from comms.samples import load_sample
from comms.settings import REPO_ROOT, load_settings

TOKEN = "bench-token"  # noqa: S105 - a throwaway token for a loopback API
CONCURRENCY = 8  # upstream clients posting at once
ISSUED = date(2027, 1, 4)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _events(prefix: str, count: int) -> list[dict[str, Any]]:
    out = []
    for i in range(count):
        raw = load_sample("tax-certificate-nl")
        raw["event_id"] = f"{prefix}-{i:08d}"
        out.append(raw)
    return out


async def _post_all(url: str, events: list[dict[str, Any]]) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as client:

        async def one(raw: dict[str, Any]) -> None:
            async with limit:
                response = await client.post("/events", content=json.dumps(raw))
                response.raise_for_status()

        await asyncio.gather(*(one(e) for e in events))


def _wait(check: Any, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.1)


def _cpu_s(proc: psutil.Process) -> float:
    times = proc.cpu_times()
    return float(times.user + times.system)


def cpu_now(api: int, workers: list[int], r: redis.Redis) -> dict[str, float]:
    """CPU seconds so far of each part: where an event's time goes besides rendering."""
    render = 0.0
    worker = 0.0
    for pid in workers:
        proc = psutil.Process(pid)
        worker += _cpu_s(proc)
        # the render processes and the forkserver they fork from
        render += sum(_cpu_s(child) for child in proc.children(recursive=True))
    info = cast(dict[str, Any], r.info("cpu"))  # redis-py types the sync and async client alike
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "API": _cpu_s(psutil.Process(api)),
        "worker": worker,
        "render": render,
        "Redis": float(info["used_cpu_user"]) + float(info["used_cpu_sys"]),
        "sink+clients": usage.ru_utime + usage.ru_stime,
    }


def redis_calls(r: redis.Redis) -> dict[str, int]:
    """Commands Redis has run so far, in all and WATCHes alone (arq's claims)."""
    stats = cast(dict[str, Any], r.info("commandstats"))
    return {
        "commands": sum(int(c["calls"]) for c in stats.values()),
        "WATCH": int(stats.get("cmdstat_watch", {}).get("calls", 0)),
    }


def render_alone(count: int, processes: int) -> float:
    """Letters per second of the render pool by itself, on the letters the round posts."""
    settings = load_settings(environment="test")
    events = [parse_event(e) for e in _events("alone", count)]
    with RenderPool(settings, processes=processes) as pool:
        pool.wait_ready()
        start = time.perf_counter()
        done = sum(1 for _ in pool.map(events, issued_on=ISSUED))
        elapsed = time.perf_counter() - start
    assert done == count
    return count / elapsed


def cpu_budget(name: str, cores: float) -> Path:
    """A CPU cgroup capped at `cores`: a worker machine of that size, on this machine (root only)."""
    period = 100_000
    v1 = Path("/sys/fs/cgroup/cpu")
    v2 = not (v1 / "cpu.cfs_quota_us").exists()  # cgroup v2: one `cpu.max` file
    group = (Path("/sys/fs/cgroup") if v2 else v1) / name
    try:
        group.mkdir(exist_ok=True)
        if v2:
            (group / "cpu.max").write_text(f"{int(cores * period)} {period}")
        else:
            (group / "cpu.cfs_period_us").write_text(str(period))
            (group / "cpu.cfs_quota_us").write_text(str(int(cores * period)))
    except OSError as exc:
        with contextlib.suppress(OSError):
            group.rmdir()  # an uncapped group left behind would mislead the next run
        raise SystemExit(f"--machine-cpu needs a writable CPU cgroup (root): {exc}") from None
    return group


def _remove_group(group: Path) -> None:
    for _ in range(50):  # render processes leave a moment after their worker
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.1)


def run_round(
    count: int,
    workers: int,
    render_processes: int,
    redis_url: str,
    database_url: str,
    machine_cpu: float = 0.0,
    sift: bool = True,
) -> dict[str, float]:
    """One layout end to end; with `machine_cpu`, each worker and its render processes get a CPU
    cgroup of that many cores, as if each were a worker machine of its own."""
    r = redis.Redis.from_url(redis_url)
    groups: list[Path] = []  # made as the workers start, removed with them
    r.flushdb()
    with (
        tempfile.TemporaryDirectory(prefix="comms-bench-") as tmp,
        SmtpSink(Path(tmp) / "mail") as sink,
    ):
        data = Path(tmp) / "var"
        port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("COMMS_")}
        users = [{"name": "bench", "roles": ["producer"], "token_sha256": token_digest(TOKEN)}]
        env |= {
            "COMMS_ENVIRONMENT": "test",
            "COMMS_DATA_DIR": str(data),
            "COMMS_REDIS_URL": redis_url,
            "COMMS_SMTP_PORT": str(sink.port),
            "COMMS_API_USERS": json.dumps(users),
            "COMMS_LOG_LEVEL": "WARNING",
            "COMMS_RENDER_PROCESSES": str(render_processes),
            "COMMS_WORKER_SIFT_CLAIMS": str(sift).lower(),
        }
        if database_url:
            env["COMMS_DATABASE_URL"] = database_url
        cmd = [sys.executable, "-m", "comms.cli"]
        procs = [subprocess.Popen([*cmd, "serve", "--port", str(port)], env=env, cwd=REPO_ROOT)]
        url = f"http://127.0.0.1:{port}"

        def api_up() -> bool:
            try:
                return httpx.get(url + "/health", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        try:
            _wait(api_up, 60, "the API")
            for i in range(workers):
                confine: list[str] = []
                if machine_cpu:
                    groups.append(cpu_budget(f"comms-bench-worker-{i}", machine_cpu))
                    # the shell joins the cgroup, then becomes the worker: its children stay in it
                    join = 'echo $$ > "$0/cgroup.procs" && exec "$@"'
                    confine = ["sh", "-c", join, str(groups[-1])]
                procs.append(subprocess.Popen([*confine, *cmd, "worker"], env=env, cwd=REPO_ROOT))
            _wait(lambda: r.exists("comms:bulk:health-check"), 60, "the workers")
            time.sleep(5)  # every worker polling, its render processes warmed up
            ledger = Ledger(database_url or f"sqlite:///{data / 'comms.db'}", "dev-only-not-secret")
            prefix = f"bench-{time.time_ns()}"  # a reused database keeps earlier rounds' events
            sent = sa.select(sa.func.count()).where(
                entries.c.status == "dispatched", entries.c.event_id.startswith(prefix)
            )

            def all_sent() -> bool:
                with ledger.engine.connect() as conn:
                    return int(conn.execute(sent).scalar_one()) >= count

            events = _events(prefix, count)
            pids = [p.pid for p in procs[1:]]
            cpu_before = cpu_now(procs[0].pid, pids, r)
            calls_before = redis_calls(r)
            start = time.perf_counter()
            asyncio.run(_post_all(url, events))
            posted = time.perf_counter() - start
            _wait(all_sent, 3600, "every event to be dispatched")
            total = time.perf_counter() - start
            cpu_after = cpu_now(procs[0].pid, pids, r)
            calls_after = redis_calls(r)
            ledger.close()
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait(timeout=60)
            for group in groups:
                _remove_group(group)
    r.flushdb()
    cpu_ms = {k: 1000 * (cpu_after[k] - cpu_before[k]) / count for k in cpu_before}
    calls = {k: (calls_after[k] - calls_before[k]) / count for k in calls_before}
    return (
        {"post_s": posted, "total_s": total}
        | {f"cpu:{k}": v for k, v in cpu_ms.items()}
        | {f"calls:{k}": v for k, v in calls.items()}
    )


LAYOUTS = ((1, 1), (2, 1), (1, 2))  # (workers, render processes each); the first is the baseline


CLAIMS = {"sifted": (True,), "arq": (False,), "both": (False, True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp folder")
    parser.add_argument(
        "--machine-cpu",
        type=float,
        default=0.0,
        help="give each worker (and its render processes) a CPU cgroup of this many cores, as if "
        "on a machine of its own, and compare 1 such worker machine with 2 (root only)",
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat every layout this many times, alternating, and print the medians",
    )
    parser.add_argument(
        "--claims",
        choices=sorted(CLAIMS),
        default="sifted",
        help="how workers claim jobs: sifted (comms' default), arq's own walk, or both in turn",
    )
    args = parser.parse_args()
    warn_if_busy()
    machines = args.machine_cpu > 0
    layouts = ((1, 1), (2, 1)) if machines else LAYOUTS
    print(f"{args.events} tax certificates by email, {os.cpu_count()} cores")
    if machines:
        print(f"each worker with its render process capped at {args.machine_cpu} core(s)")
    print(
        f"{'layout':<36}{'intake/s':>9}{'end-to-end/s':>14}{'× baseline':>11}"
        f"{'render alone/s':>16}{'overhead':>10}{'load avg':>10}"
    )
    rows: list[tuple[str, dict[str, float]]] = []
    alone_by_layout: dict[tuple[int, int], float] = {}
    ratios: dict[str, list[float]] = {}  # per layout: × that round's baseline
    rates: dict[str, list[float]] = {}
    for n in range(1, args.rounds + 1):
        baseline: dict[bool, float] = {}  # each round against its own baseline: the machine drifts
        for workers, processes in layouts:
            # rendering alone is not capped: with --machine-cpu its columns are left out
            if (workers, processes) not in alone_by_layout:
                alone_by_layout[workers, processes] = (
                    0.0 if machines else render_alone(args.events, workers * processes)
                )
            alone = alone_by_layout[workers, processes]
            for sift in CLAIMS[args.claims]:
                row = run_round(
                    args.events,
                    workers,
                    processes,
                    args.redis,
                    args.database_url,
                    args.machine_cpu,
                    sift=sift,
                )
                rate = args.events / row["total_s"]
                baseline.setdefault(sift, rate)
                layout = (
                    f"{workers} worker machine(s)"
                    if machines
                    else f"{workers} worker(s) × {processes} render"
                )
                if args.claims == "both":
                    layout += ", sifted" if sift else ", arq walk"
                ratios.setdefault(layout, []).append(rate / baseline[sift])
                rates.setdefault(layout, []).append(rate)
                if args.rounds > 1:
                    layout += f", round {n}"
                versus = (
                    f"{alone:>16.2f}{1 - rate / alone:>10.1%}" if alone else f"{'-':>16}{'-':>10}"
                )
                print(
                    f"{layout:<36}{args.events / row['post_s']:>9.1f}{rate:>14.2f}"
                    f"{rate / baseline[sift]:>11.2f}{versus}{os.getloadavg()[0]:>10.1f}",
                    flush=True,
                )
                rows.append((layout, row))
    if args.rounds > 1:
        print(f"\nmedian of {args.rounds} rounds, each against its own round's baseline")
        print(f"{'layout':<36}{'events/s':>10}{'× baseline':>12}{'lowest':>8}{'highest':>9}")
        for layout, found in ratios.items():
            print(
                f"{layout:<36}{statistics.median(rates[layout]):>10.2f}"
                f"{statistics.median(found):>12.2f}{min(found):>8.2f}{max(found):>9.2f}"
            )
    print_costs(rows)


def print_costs(rows: list[tuple[str, dict[str, float]]]) -> None:
    """Per event: CPU by process, then Redis commands (all, and arq's claim WATCHes)."""
    parts = [k[4:] for k in rows[0][1] if k.startswith("cpu:")]
    print("\nCPU ms per event, by process (render: the render processes; sink+clients: this bench)")
    print(
        f"{'layout':<36}"
        + "".join(f"{p:>14}" for p in parts)
        + f"{'all but render':>16}{'Redis cmds':>12}{'WATCH':>8}"
    )
    for layout, row in rows:
        cpu = {p: row["cpu:" + p] for p in parts}
        rest = sum(v for k, v in cpu.items() if k != "render")
        print(
            f"{layout:<36}"
            + "".join(f"{cpu[p]:>14.1f}" for p in parts)
            + f"{rest:>16.1f}{row['calls:commands']:>12.1f}{row['calls:WATCH']:>8.1f}"
        )


if __name__ == "__main__":
    main()
