"""Alembic environment: migrates on the connection `Ledger.migrate()` hands over, or on a URL."""

from __future__ import annotations

from alembic import context

from comms.ledger.engine import WRITE_OPTION, make_engine
from comms.ledger.schema import metadata


def _url() -> str:
    url = context.config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from comms.settings import load_settings

    return load_settings().effective_database_url


def run_offline() -> None:
    """`alembic upgrade head --sql`: the DDL for a DBA to review and run."""
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:  # Ledger.migrate(): already in a (locked) transaction
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(_url()).execution_options(**{WRITE_OPTION: True})
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
