"""Engines tuned for one job: many short transactions from many processes, appends serialised."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

WRITE_OPTION = "comms_ledger_write"  # execution option: this transaction appends
SQLITE_BUSY_TIMEOUT_S = 30.0  # how long a SQLite writer waits for another's BEGIN IMMEDIATE
SQLITE_WAL_RETRY_S = 0.02  # pause between attempts to switch a new file to WAL
# The database is away or the connection broke (a restart, a failover, a network cut): the same
# statement may succeed in a moment. Not a bug, not the event's fault; retried soon.
OUTAGES: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError)


def make_engine(url: str | URL) -> Engine:
    """PostgreSQL as given; SQLite as a WAL file whose write transactions BEGIN IMMEDIATE."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return sa.create_engine(parsed, pool_pre_ping=True)
    if parsed.database in (None, "", ":memory:"):
        raise ValueError("the ledger needs a SQLite file: it is shared by threads and processes")
    Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})
    sa.event.listen(engine, "connect", _sqlite_on_connect)
    sa.event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control from the driver so that `begin` below decides how to BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    _wal(cursor)  # readers never block the single writer
    cursor.execute("PRAGMA synchronous=FULL")  # system of record: durable at each commit
    cursor.close()


def _wal(cursor: Any) -> None:
    """Switching a new file to WAL needs a moment alone; SQLite may refuse without waiting."""
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_S
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(SQLITE_WAL_RETRY_S)


def _sqlite_on_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front: two writers queue on the busy timeout instead of
    # both reading the chain head and failing with SQLITE_BUSY when they upgrade to writing.
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
