"""Many writers at once: worker processes and threads share one chain and lose nothing."""

from __future__ import annotations

import itertools
import multiprocessing
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from alembic.script import ScriptDirectory

from comms.compose import pool
from comms.ledger import Filters, Ledger
from comms.migrations import alembic_config
from comms.models import Status
from tests.ledger import workers
from tests.ledger.helpers import accept

PROCESSES = 4
APPENDS = 50  # per process
JOIN_TIMEOUT_S = 120
# Separate processes, as workers are: each child builds its own engine and inherits no connection.
# Forked from a server that has imported the workers' code once, instead of importing it again
# in every child (a second of CPU each).
# A process has one fork server, and the first test to start a child sets what it preloads: this
# one preloads the render pool's modules too, so render processes started later start warm.
CTX = multiprocessing.get_context("forkserver")


def _run(target: Any, args_for: list[tuple[Any, ...]]) -> None:
    CTX.set_forkserver_preload([workers.__name__, pool.__name__, pool.WEASYPRINT])
    procs = [CTX.Process(target=target, args=args) for args in args_for]
    for p in procs:
        p.start()
    for p in procs:
        p.join(JOIN_TIMEOUT_S)
    assert [p.exitcode for p in procs] == [0] * len(procs)


def test_processes_appending_at_once_keep_one_valid_chain(ledger: Ledger, db_url: str) -> None:
    """Four worker processes append 50 rows each at the same moment: 200 rows, one chain."""
    accept(ledger, "evt-shared-0001")
    barrier = CTX.Barrier(PROCESSES)

    _run(
        workers.append_many,
        [(db_url, w, APPENDS, "evt-shared-0001", barrier) for w in range(PROCESSES)],
    )

    result = ledger.verify()
    assert result.ok, result
    assert result.checked == 1 + PROCESSES * APPENDS
    shared = ledger.history("evt-shared-0001")
    done = sorted((int(e.evidence["worker"]), int(e.evidence["i"])) for e in shared[1:])
    expected = sorted((w, i) for w in range(PROCESSES) for i in range(APPENDS) if i % 10)
    assert done == expected  # none lost, none twice
    news = [
        e
        for e in ledger.search(Filters(status=Status.ACCEPTED), limit=1000)
        if e.event_id != "evt-shared-0001"
    ]
    assert len(news) == PROCESSES * APPENDS // 10
    # The writers really did interleave (otherwise this test proves little).
    writers = [e.evidence["worker"] for e in shared[1:]]
    assert sum(1 for _ in itertools.groupby(writers)) > PROCESSES


def test_processes_accepting_the_same_events_get_one_new_each(ledger: Ledger, db_url: str) -> None:
    """Redelivery races: the same 25 events reach four workers at once; each is new exactly once."""
    barrier, results = CTX.Barrier(PROCESSES), CTX.Queue()
    event_ids = [f"evt-race-{n:04d}" for n in range(25)]

    _run(workers.accept_same, [(db_url, event_ids, barrier, results)] * PROCESSES)

    outcomes = [pair for _ in range(PROCESSES) for pair in results.get(timeout=5)]
    for event_id in event_ids:
        assert sum(new for eid, new in outcomes if eid == event_id) == 1, event_id
        assert [e.status for e in ledger.history(event_id)] == [Status.ACCEPTED]
    assert ledger.verify().checked == len(event_ids)


def test_workers_starting_together_migrate_once(db_url: str) -> None:
    """Every worker runs the migrations on start-up; on an empty database they must not collide."""
    barrier = CTX.Barrier(PROCESSES)

    _run(workers.migrate, [(db_url, barrier)] * PROCESSES)

    with Ledger(db_url, "any") as ledger:
        assert ledger.verify().ok
        with ledger.engine.connect() as conn:
            applied = {
                r[0] for r in conn.exec_driver_sql("SELECT version_num FROM alembic_version")
            }
    # One row per head: each area's branch applied once, none twice.
    assert applied == set(ScriptDirectory.from_config(alembic_config()).get_heads())


def test_threads_sharing_one_ledger(ledger: Ledger) -> None:
    """The async pipeline calls the ledger from a thread pool: one Ledger, many threads."""
    accept(ledger, "evt-threads-0001")

    def record(n: int) -> int:
        entry = ledger.record(
            event_id="evt-threads-0001", status=Status.ROUTED, communication_id=f"c-{n}"
        )
        return entry.seq

    with ThreadPoolExecutor(max_workers=8) as pool:
        seqs = list(pool.map(record, range(200)))

    assert sorted(seqs) == list(range(2, 202))
    assert ledger.verify().checked == 201
