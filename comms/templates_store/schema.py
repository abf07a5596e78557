"""The tables of published templates: file contents, versions, publication requests, decisions.

Everything a version needs lives in the database, so any worker on any machine can rebuild it
and compliance can re-render a letter years later from what the ledger row names.
"""

from __future__ import annotations

import sqlalchemy as sa

from comms.ledger.schema import NAMING, SHA256_HEX, BigId, UTCDateTime

NAME_MAX = 100  # a person's name as recorded for an approval (ApiUser.name allows 100)
PATH_MAX = 300  # a template file's path inside the templates folder
DOC_TYPE_MAX = 64  # as in the ledger's doc_type columns

metadata = sa.MetaData(naming_convention=NAMING)

template_blobs = sa.Table(
    "template_blobs",
    metadata,
    sa.Column("sha256", sa.String(SHA256_HEX), primary_key=True),
    sa.Column("content", sa.LargeBinary, nullable=False),
)

template_versions = sa.Table(
    "template_versions",
    metadata,
    sa.Column("version", sa.String(SHA256_HEX), primary_key=True),
    sa.Column("doc_type", sa.String(DOC_TYPE_MAX), nullable=False),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("stored_at", UTCDateTime, nullable=False),
)

template_version_files = sa.Table(
    "template_version_files",
    metadata,
    sa.Column(
        "version",
        sa.String(SHA256_HEX),
        sa.ForeignKey("template_versions.version", name="fk_template_version_files_version"),
        primary_key=True,
    ),
    sa.Column("path", sa.String(PATH_MAX), primary_key=True),
    sa.Column(
        "blob_sha256",
        sa.String(SHA256_HEX),
        sa.ForeignKey("template_blobs.sha256", name="fk_template_version_files_blob"),
        nullable=False,
    ),
)

template_publications = sa.Table(
    "template_publications",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("requested_by", sa.String(NAME_MAX), nullable=False),
    sa.Column("requested_at", UTCDateTime, nullable=False),
    sa.Column("note", sa.Text, nullable=True),
    sa.Column("check_summary", sa.Text, nullable=False),
)

template_publication_items = sa.Table(
    "template_publication_items",
    metadata,
    sa.Column(
        "publication_id",
        sa.BigInteger,
        sa.ForeignKey("template_publications.id", name="fk_template_publication_items_publication"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("doc_type", sa.String(DOC_TYPE_MAX), primary_key=True),
    sa.Column("language", sa.String(2), primary_key=True),
    sa.Column(
        "version",
        sa.String(SHA256_HEX),
        sa.ForeignKey("template_versions.version", name="fk_template_publication_items_version"),
        nullable=False,
    ),
    sa.Column("previous_version", sa.String(SHA256_HEX), nullable=True),
    sa.Index(None, "doc_type", "language"),
)

# One decision per publication: the primary key makes two approvers racing harmless.
template_decisions = sa.Table(
    "template_decisions",
    metadata,
    sa.Column(
        "publication_id",
        sa.BigInteger,
        sa.ForeignKey("template_publications.id", name="fk_template_decisions_publication"),
        primary_key=True,
        autoincrement=False,
    ),
    sa.Column("decision", sa.String(16), nullable=False),
    sa.Column("decided_by", sa.String(NAME_MAX), nullable=False),
    sa.Column("decided_at", UTCDateTime, nullable=False),
    sa.Column("reason", sa.Text, nullable=True),
    sa.CheckConstraint("decision IN ('approved', 'rejected')", name="known_decision"),
)
