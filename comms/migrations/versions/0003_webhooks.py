"""Upstream webhooks: endpoints, the outbox of signed messages, the fan-out cursor.

Revision ID: 0003_webhooks
Revises: 0001_ledger
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_webhooks"
down_revision: str | None = "0001_ledger"
branch_labels: str | Sequence[str] | None = ("webhooks",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("producer", sa.String(100), nullable=False),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("types", sa.Text, nullable=False),
        sa.Column("from_seq", sa.BigInteger, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("disabled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoints"),
    )
    op.create_index("ix_webhook_endpoints_producer", "webhook_endpoints", ["producer"])
    op.create_table(
        "webhook_messages",
        sa.Column("id", sa.String(40), nullable=False),
        sa.Column("endpoint_id", sa.String(40), nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claim_token", sa.String(32), nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_messages"),
        sa.UniqueConstraint("endpoint_id", "seq", name="uq_webhook_messages_endpoint_id_seq"),
    )
    op.create_index(
        "ix_webhook_messages_state_next_attempt_at",
        "webhook_messages",
        ["state", "next_attempt_at"],
    )
    op.create_index(
        "ix_webhook_messages_endpoint_id_event_id_seq",
        "webhook_messages",
        ["endpoint_id", "event_id", "seq"],
    )
    op.create_index(
        "ix_webhook_messages_endpoint_id_state_seq",
        "webhook_messages",
        ["endpoint_id", "state", "seq"],
    )
    cursor = op.create_table(
        "webhook_cursor",
        sa.Column("id", sa.SmallInteger, autoincrement=False, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_cursor"),
        sa.CheckConstraint("id = 1", name="ck_webhook_cursor_single_row"),
    )
    # Endpoints see what happens after they exist, so the fan-out starts at the chain's head.
    head = op.get_bind().execute(sa.text("SELECT seq FROM chain_head WHERE id = 1")).scalar()
    op.bulk_insert(cursor, [{"id": 1, "seq": int(head or 0)}])


def downgrade() -> None:
    op.drop_table("webhook_cursor")
    op.drop_index("ix_webhook_messages_endpoint_id_state_seq", table_name="webhook_messages")
    op.drop_index("ix_webhook_messages_endpoint_id_event_id_seq", table_name="webhook_messages")
    op.drop_index("ix_webhook_messages_state_next_attempt_at", table_name="webhook_messages")
    op.drop_table("webhook_messages")
    op.drop_index("ix_webhook_endpoints_producer", table_name="webhook_endpoints")
    op.drop_table("webhook_endpoints")
