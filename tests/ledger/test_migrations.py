"""The Alembic migrations build exactly the tables the code declares, and run backwards too."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from comms.api import sessions
from comms.ledger import Ledger
from comms.ledger.schema import metadata
from comms.migrations import alembic_config
from comms.templates_store import schema as templates_schema
from tests.ledger.helpers import accept


@pytest.mark.parametrize(
    "declared",
    [metadata, templates_schema.metadata, sessions.metadata],
    ids=["ledger", "templates", "web-sessions"],
)
def test_migrated_schema_matches_the_metadata(ledger: Ledger, declared: sa.MetaData) -> None:
    """No drift between each area's declared tables and comms/migrations/versions."""
    ours = set(declared.tables)

    def only_ours(obj: object, name: str | None, type_: str, *_: object) -> bool:
        # Other areas (templates, queue) add their own tables in their own branches.
        table = obj if type_ == "table" else getattr(obj, "table", None)
        return getattr(table, "name", name) in ours

    with ledger.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": only_ours})
        diff = compare_metadata(context, declared)
    assert diff == []


def test_migrate_twice_is_harmless(ledger: Ledger) -> None:
    """Every worker migrates on start-up; a second run finds nothing to do."""
    accept(ledger, "evt-mig-0001")
    ledger.migrate()
    assert ledger.verify().checked == 1


def test_downgrade_then_upgrade(ledger: Ledger) -> None:
    """The first revision can be undone and redone (for developers; production only goes up)."""
    config = alembic_config()
    with ledger.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "base")
    ledger.migrate()
    accept(ledger, "evt-mig-0002")
    assert ledger.verify().ok
