"""Web sign-in sessions kept server-side (issue 13, finding 4): hashed ids, creation, last use.

Revision ID: hardening_http_0003_web_sessions
Revises: 0001_ledger
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "hardening_http_0003_web_sessions"
down_revision: str | None = "0001_ledger"
branch_labels: str | Sequence[str] | None = ("web_sessions",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_sessions",
        sa.Column("id_sha256", sa.String(64), nullable=False),
        sa.Column("user_name", sa.String(100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id_sha256", name="pk_web_sessions"),
    )
    op.create_index("ix_web_sessions_user_name", "web_sessions", ["user_name"])


def downgrade() -> None:
    op.drop_index("ix_web_sessions_user_name", "web_sessions")
    op.drop_table("web_sessions")
