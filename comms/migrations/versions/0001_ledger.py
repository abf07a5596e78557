"""The delivery log: events, rejections, hash-chained entries, evidence index, document views.

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-30
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_ledger"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64  # prev_hash of seq 1; frozen here, as a migration must not import live code
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _at(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    chain_head = op.create_table(
        "chain_head",
        sa.Column("id", sa.SmallInteger, autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_chain_head"),
        sa.CheckConstraint("id = 1", name="ck_chain_head_single_row"),
    )
    op.bulk_insert(chain_head, [{"id": 1, "seq": 0, "row_hash": GENESIS}])

    op.create_table(
        "events",
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("doc_type", sa.String(64), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("subject_hmac", sa.String(64), nullable=False),
        sa.Column("dossier", sa.String(40), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        _at("accepted_at"),
        sa.Column("snapshot", sa.Text, nullable=True),
        _at("purged_at", nullable=True),
        sa.PrimaryKeyConstraint("event_id", name="pk_events"),
    )
    op.create_index("ix_events_subject_hmac", "events", ["subject_hmac"])
    op.create_index("ix_events_dossier", "events", ["dossier"])

    op.create_table(
        "rejections",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        _at("received_at"),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=True),
        sa.Column("raw", sa.Text, nullable=True),
        sa.Column("errors", sa.Text, nullable=False),
        _at("purged_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_rejections"),
    )
    op.create_index("ix_rejections_event_id", "rejections", ["event_id"])

    op.create_table(
        "entries",
        sa.Column("seq", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("communication_id", sa.String(200), nullable=True),
        sa.Column("doc_type", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(16), nullable=True),
        sa.Column("language", sa.String(2), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _at("at"),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=True),
        sa.Column("template_version", sa.String(100), nullable=True),
        sa.Column("renderer_version", sa.String(100), nullable=True),
        sa.Column("subject_hmac", sa.String(64), nullable=True),
        sa.Column("dossier", sa.String(40), nullable=True),
        sa.Column("hash_version", sa.SmallInteger, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("row_hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_entries"),
    )
    op.create_index("ix_entries_at", "entries", ["at"])
    op.create_index("ix_entries_event_id_seq", "entries", ["event_id", "seq"])
    op.create_index("ix_entries_communication_id_seq", "entries", ["communication_id", "seq"])
    op.create_index("ix_entries_subject_hmac_seq", "entries", ["subject_hmac", "seq"])
    op.create_index("ix_entries_dossier_seq", "entries", ["dossier", "seq"])
    _forbid_changes_to_entries()

    op.create_table(
        "entry_evidence",
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("value_sha256", sa.String(64), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("key", "value_sha256", "seq", name="pk_entry_evidence"),
    )

    op.create_table(
        "document_views",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=True),
        sa.Column("viewer", sa.String(200), nullable=False),
        sa.Column("purpose", sa.String(200), nullable=True),
        _at("viewed_at"),
        sa.PrimaryKeyConstraint("id", name="pk_document_views"),
    )
    op.create_index("ix_document_views_document_sha256", "document_views", ["document_sha256"])
    op.create_index("ix_document_views_event_id", "document_views", ["event_id"])
    op.create_index("ix_document_views_viewed_at", "document_views", ["viewed_at"])


def _forbid_changes_to_entries() -> None:
    """Append-only in the database too: the application role cannot rewrite history by mistake.

    The hash chain is what detects a change by someone who can drop these triggers.
    """
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION entries_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
            " BEGIN RAISE EXCEPTION 'entries is append-only'; END $$"
        )
        op.execute(
            "CREATE TRIGGER entries_append_only BEFORE UPDATE OR DELETE ON entries"
            " FOR EACH ROW EXECUTE FUNCTION entries_append_only()"
        )
        op.execute(
            "CREATE TRIGGER entries_no_truncate BEFORE TRUNCATE ON entries"
            " FOR EACH STATEMENT EXECUTE FUNCTION entries_append_only()"
        )
    else:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER entries_no_{action.lower()} BEFORE {action} ON entries"
                " BEGIN SELECT RAISE(ABORT, 'entries is append-only'); END"
            )


def downgrade() -> None:
    tables = ("document_views", "entry_evidence", "entries", "rejections", "events", "chain_head")
    for table in tables:
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION entries_append_only()")
