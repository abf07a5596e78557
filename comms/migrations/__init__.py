"""Alembic migrations of the comms database, configured in code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config

HERE = Path(__file__).resolve().parent


def alembic_config(database_url: str | None = None) -> Config:
    """Config pointing at this folder; pass a URL for offline SQL, or a connection in attributes."""
    config = Config()
    config.set_main_option("script_location", str(HERE))
    if database_url is not None:
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config
