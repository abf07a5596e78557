"""Template versions and their publication: file contents, versions, requests, decisions (issue 6).

Revision ID: 0002_templates
Revises: 0001_ledger
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_templates"
down_revision: str | None = "0001_ledger"
branch_labels: str | Sequence[str] | None = ("templates",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # frozen here, as in 0001


def _at(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=False)


def upgrade() -> None:
    op.create_table(
        "template_blobs",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("content", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("sha256", name="pk_template_blobs"),
    )
    op.create_table(
        "template_versions",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("doc_type", sa.String(64), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        _at("stored_at"),
        sa.PrimaryKeyConstraint("version", name="pk_template_versions"),
    )
    op.create_table(
        "template_version_files",
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("path", sa.String(300), nullable=False),
        sa.Column("blob_sha256", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("version", "path", name="pk_template_version_files"),
        sa.ForeignKeyConstraint(
            ["version"],
            ["template_versions.version"],
            name="fk_template_version_files_version",
        ),
        sa.ForeignKeyConstraint(
            ["blob_sha256"],
            ["template_blobs.sha256"],
            name="fk_template_version_files_blob",
        ),
    )
    op.create_table(
        "template_publications",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("requested_by", sa.String(100), nullable=False),
        _at("requested_at"),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("check_summary", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_template_publications"),
    )
    op.create_table(
        "template_publication_items",
        sa.Column("publication_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("doc_type", sa.String(64), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("previous_version", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint(
            "publication_id", "doc_type", "language", name="pk_template_publication_items"
        ),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["template_publications.id"],
            name="fk_template_publication_items_publication",
        ),
        sa.ForeignKeyConstraint(
            ["version"],
            ["template_versions.version"],
            name="fk_template_publication_items_version",
        ),
    )
    op.create_index(
        "ix_template_publication_items_doc_type_language",
        "template_publication_items",
        ["doc_type", "language"],
    )
    op.create_table(
        "template_decisions",
        sa.Column("publication_id", sa.BigInteger, autoincrement=False, nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(100), nullable=False),
        _at("decided_at"),
        sa.Column("reason", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("publication_id", name="pk_template_decisions"),
        sa.ForeignKeyConstraint(
            ["publication_id"],
            ["template_publications.id"],
            name="fk_template_decisions_publication",
        ),
        sa.CheckConstraint(
            "decision IN ('approved', 'rejected')", name="ck_template_decisions_known_decision"
        ),
    )


def downgrade() -> None:
    op.drop_table("template_decisions")
    op.drop_index("ix_template_publication_items_doc_type_language", "template_publication_items")
    for table in (
        "template_publication_items",
        "template_publications",
        "template_version_files",
        "template_versions",
        "template_blobs",
    ):
        op.drop_table(table)
