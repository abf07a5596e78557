"""The ledger's tables as SQLAlchemy Core metadata; Alembic creates them, a test compares."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

# Fixed constraint names, so migrations and metadata agree on every backend.
NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SHA256_HEX = 64  # length of a SHA-256 or HMAC-SHA256 hex digest
EVENT_ID_MAX = 100  # the event contract's EventId pattern allows up to 100 characters
DOSSIER_MAX = 40  # the event contract's dossier pattern


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC in and out: SQLite keeps no offset, so it gets naive UTC and we re-attach UTC."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("the ledger stores aware datetimes only")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# SQLite only auto-increments an INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit identity.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

metadata = sa.MetaData(naming_convention=NAMING)

chain_head = sa.Table(
    "chain_head",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("row_hash", sa.String(SHA256_HEX), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("event_id", sa.String(EVENT_ID_MAX), primary_key=True),
    sa.Column("doc_type", sa.String(64), nullable=False),
    sa.Column("content_sha256", sa.String(SHA256_HEX), nullable=False),
    sa.Column("subject_hmac", sa.String(SHA256_HEX), nullable=False, index=True),
    sa.Column("dossier", sa.String(DOSSIER_MAX), nullable=False, index=True),
    sa.Column("language", sa.String(2), nullable=False),
    sa.Column("accepted_at", UTCDateTime, nullable=False),
    sa.Column("snapshot", sa.Text, nullable=True),  # sealed event JSON; NULL once purged
    sa.Column("purged_at", UTCDateTime, nullable=True),
)

rejections = sa.Table(
    "rejections",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("received_at", UTCDateTime, nullable=False),
    sa.Column("source", sa.String(200), nullable=False),
    sa.Column("event_id", sa.String(EVENT_ID_MAX), nullable=True, index=True),
    sa.Column("raw", sa.Text, nullable=True),  # sealed bad input; NULL once purged
    sa.Column("errors", sa.Text, nullable=False),  # JSON list of {field, message}, no values
    sa.Column("purged_at", UTCDateTime, nullable=True),
)

entries = sa.Table(
    "entries",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("event_id", sa.String(EVENT_ID_MAX), nullable=False),
    sa.Column("communication_id", sa.String(200), nullable=True),
    sa.Column("doc_type", sa.String(64), nullable=True),
    sa.Column("channel", sa.String(16), nullable=True),
    sa.Column("language", sa.String(2), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False, index=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("evidence", sa.Text, nullable=False),  # canonical JSON object str -> str
    sa.Column("document_sha256", sa.String(SHA256_HEX), nullable=True),
    sa.Column("template_version", sa.String(100), nullable=True),
    sa.Column("renderer_version", sa.String(100), nullable=True),
    sa.Column("subject_hmac", sa.String(SHA256_HEX), nullable=True),
    sa.Column("dossier", sa.String(DOSSIER_MAX), nullable=True),
    sa.Column("hash_version", sa.SmallInteger, nullable=False),
    sa.Column("prev_hash", sa.String(SHA256_HEX), nullable=False),
    sa.Column("row_hash", sa.String(SHA256_HEX), nullable=False),
    sa.Index(None, "event_id", "seq"),
    sa.Index(None, "communication_id", "seq"),
    sa.Index(None, "subject_hmac", "seq"),
    sa.Index(None, "dossier", "seq"),
)

# Lookup of entries by one evidence item (an eBox message id, a print sequence). Derived from
# `entries.evidence` in the same transaction; values are hashed so any length fits a b-tree.
entry_evidence = sa.Table(
    "entry_evidence",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value_sha256", sa.String(SHA256_HEX), primary_key=True),
    sa.Column("seq", sa.BigInteger, primary_key=True),
)

document_views = sa.Table(
    "document_views",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("document_sha256", sa.String(SHA256_HEX), nullable=False, index=True),
    sa.Column("event_id", sa.String(EVENT_ID_MAX), nullable=True, index=True),
    sa.Column(
        "viewer", sa.String(200), nullable=False, index=True
    ),  # staff account, never a citizen
    sa.Column("purpose", sa.String(200), nullable=True),
    sa.Column("viewed_at", UTCDateTime, nullable=False, index=True),
)

# What a purge removed, by hash and rule: a second chain, so a missing snapshot or document is
# either accounted for here or a finding. Written under the entries' head lock (revision 0002).
tombstones = sa.Table(
    "tombstones",
    metadata,
    sa.Column("seq", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # snapshot | document | wrappings | rejection
    sa.Column("event_id", sa.String(EVENT_ID_MAX), nullable=True),
    sa.Column("rejection_id", sa.BigInteger, nullable=True),
    sa.Column("doc_type", sa.String(64), nullable=True),
    sa.Column("content_sha256", sa.String(SHA256_HEX), nullable=False),  # what was removed
    sa.Column("rule", sa.String(200), nullable=False),  # the retention rule applied, in words
    sa.Column("retained_until", sa.Date, nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),  # who ran the purge (staff account)
    sa.Column("chain_seq", sa.BigInteger, nullable=False),  # the entries' head when it ran
    sa.Column("hash_version", sa.SmallInteger, nullable=False),
    sa.Column("prev_hash", sa.String(SHA256_HEX), nullable=False),
    sa.Column("row_hash", sa.String(SHA256_HEX), nullable=False),
    sa.Index(None, "event_id", "seq"),
    sa.Index(None, "content_sha256"),
)

tombstone_head = sa.Table(
    "tombstone_head",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("row_hash", sa.String(SHA256_HEX), nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)

# Dates the reports compare with sending times (a notice's due date, a decision's date). Taken
# from the event at acceptance; not personal, so they outlive the purged snapshot.
event_dates = sa.Table(
    "event_dates",
    metadata,
    sa.Column("event_id", sa.String(EVENT_ID_MAX), primary_key=True),
    sa.Column("name", sa.String(32), primary_key=True),
    sa.Column("value", sa.Date, nullable=False),
)

# Upstream webhooks (issue 18, docs/webhooks.md): not part of the chain, which they only read.
# An endpoint's signing secret is sealed; a message's payload holds no personal data.
webhook_endpoints = sa.Table(
    "webhook_endpoints",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("producer", sa.String(100), nullable=False, index=True),  # the API user's name
    sa.Column("url", sa.Text, nullable=False),
    sa.Column("secret", sa.Text, nullable=False),  # sealed `whsec_…`
    sa.Column("types", sa.Text, nullable=False),  # JSON list of the change types it wants
    sa.Column("from_seq", sa.BigInteger, nullable=False),  # the chain's head when it registered
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("disabled_at", UTCDateTime, nullable=True),
)

webhook_messages = sa.Table(
    "webhook_messages",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),  # `msg_…`, the receiver's deduplication key
    sa.Column("endpoint_id", sa.String(40), nullable=False),
    sa.Column("seq", sa.BigInteger, nullable=False),  # the ledger entry it reports
    sa.Column("event_id", sa.String(EVENT_ID_MAX), nullable=False),
    sa.Column("type", sa.String(40), nullable=False),
    sa.Column("payload", sa.Text, nullable=False),  # the JSON body, signed as sent
    sa.Column("state", sa.String(16), nullable=False),  # pending | delivered | dead
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime, nullable=False),
    sa.Column("claimed_until", UTCDateTime, nullable=True),  # a dispatcher is sending it
    sa.Column(
        "claim_token", sa.String(32), nullable=True
    ),  # which claim: a stale one writes nothing
    sa.Column("last_error", sa.String(200), nullable=True),  # HTTP status or error class only
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("delivered_at", UTCDateTime, nullable=True),
    sa.UniqueConstraint("endpoint_id", "seq"),
    sa.Index(None, "state", "next_attempt_at"),
    sa.Index(None, "endpoint_id", "event_id", "seq"),
    sa.Index(None, "endpoint_id", "state", "seq"),
)

# How far the fan-out has read the chain: one row.
webhook_cursor = sa.Table(
    "webhook_cursor",
    metadata,
    sa.Column("id", sa.SmallInteger, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.CheckConstraint("id = 1", name="single_row"),
)
