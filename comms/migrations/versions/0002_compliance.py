"""Compliance: tombstones of purges (chained), dates for timeliness reports, append-only views.

Revision ID: 0002_compliance
Revises: 0001_ledger
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_compliance"
down_revision: str | None = "0001_ledger"
branch_labels: str | Sequence[str] | None = ("compliance",)
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64  # prev_hash of the first tombstone; frozen here, as in 0001
APPEND_ONLY = ("tombstones", "document_views")  # the record of purges and of who looked


def upgrade() -> None:
    op.create_table(
        "tombstones",
        sa.Column("seq", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=True),
        sa.Column("rejection_id", sa.BigInteger, nullable=True),
        sa.Column("doc_type", sa.String(64), nullable=True),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(200), nullable=False),
        sa.Column("retained_until", sa.Date, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("chain_seq", sa.BigInteger, nullable=False),
        sa.Column("hash_version", sa.SmallInteger, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_tombstones"),
    )
    op.create_index("ix_tombstones_event_id_seq", "tombstones", ["event_id", "seq"])
    op.create_index("ix_tombstones_content_sha256", "tombstones", ["content_sha256"])

    head = op.create_table(
        "tombstone_head",
        sa.Column("id", sa.SmallInteger, autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_tombstone_head"),
        sa.CheckConstraint("id = 1", name="ck_tombstone_head_single_row"),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "row_hash": GENESIS}])

    op.create_table(
        "event_dates",
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.Date, nullable=False),
        sa.PrimaryKeyConstraint("event_id", "name", name="pk_event_dates"),
    )

    op.create_index("ix_document_views_viewer", "document_views", ["viewer"])
    _append_only()


def _append_only() -> None:
    """The database refuses edits to these records too; the tombstone chain catches the rest."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION comms_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION '% is append-only', TG_TABLE_NAME; END $$"
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}"
                " FOR EACH ROW EXECUTE FUNCTION comms_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}"
                " FOR EACH STATEMENT EXECUTE FUNCTION comms_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table}"
                f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
            )


def downgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgresql:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        else:
            op.execute(f"DROP TRIGGER {table}_no_update")
            op.execute(f"DROP TRIGGER {table}_no_delete")
    if postgresql:
        op.execute("DROP FUNCTION comms_append_only()")
    op.drop_index("ix_document_views_viewer", table_name="document_views")
    for table in ("event_dates", "tombstone_head", "tombstones"):
        op.drop_table(table)
