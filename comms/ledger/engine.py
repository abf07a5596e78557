"""Engines tuned for one job: many short transactions from many processes, appends serialised."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine

WRITE_OPTION = "comms_ledger_write"  # execution option: this transaction appends
SQLITE_BUSY_TIMEOUT_S = 30.0  # how long a SQLite writer waits for another's BEGIN IMMEDIATE


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
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the single writer
    cursor.execute("PRAGMA synchronous=FULL")  # system of record: durable at each commit
    cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front: two writers queue on the busy timeout instead of
    # both reading the chain head and failing with SQLITE_BUSY when they upgrade to writing.
    write = connection.get_execution_options().get(WRITE_OPTION, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")
