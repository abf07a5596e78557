"""Appending one row to the chain: lock the head, link, hash, insert, index, move the head."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.chain import HASH_VERSION, canonical_json, row_hash
from comms.ledger.filters import evidence_value_hash
from comms.ledger.queries import entry_from_row
from comms.ledger.records import Entry
from comms.ledger.schema import chain_head, entries, entry_evidence
from comms.models import Status

EVIDENCE_KEY_MAX = 64  # entry_evidence.key length
_OPTIONAL_TEXT = (
    "communication_id",
    "doc_type",
    "channel",
    "language",
    "reason",
    "document_sha256",
    "template_version",
    "renderer_version",
    "subject_hmac",
    "dossier",
)


# Built once: SQLAlchemy then finds each compiled statement in its cache by the statement's
# memoised key, instead of building and keying a new statement per append (bench/ledger_append.py).
_LOCK_HEAD = (
    sa.select(chain_head.c.seq, chain_head.c.row_hash).where(chain_head.c.id == 1).with_for_update()
)
_INSERT_ENTRY = sa.insert(entries)
_INSERT_EVIDENCE = sa.insert(entry_evidence)
_MOVE_HEAD = (
    sa.update(chain_head)
    .where(chain_head.c.id == 1)
    .values(seq=sa.bindparam("new_seq"), row_hash=sa.bindparam("new_hash"))
)
_LIMITS: tuple[tuple[str, int], ...] = tuple(
    (column.name, int(column.type.length))
    for column in entries.columns
    if isinstance(column.type, sa.String) and column.type.length is not None
)


def lock_head(conn: Connection) -> tuple[int, str]:
    """The chain's tip, locked until commit (PostgreSQL FOR UPDATE; SQLite holds its write lock)."""
    row = conn.execute(_LOCK_HEAD).one()
    return int(row.seq), str(row.row_hash)


def append(
    conn: Connection,
    head: tuple[int, str],
    *,
    at: datetime,
    event_id: str,
    status: Status,
    evidence: Mapping[str, str],
    communication_id: str | None = None,
    channel: str | None = None,
    reason: str | None = None,
    document_sha256: str | None = None,
    template_version: str | None = None,
    renderer_version: str | None = None,
    doc_type: str | None = None,
    language: str | None = None,
    subject_hmac: str | None = None,
    dossier: str | None = None,
) -> Entry:
    """Links one row to the head, inserts it, indexes its evidence and moves the head.

    An empty text is stored as NULL: one spelling of "nothing", so CSV exports are lossless.
    """
    if not event_id:
        raise ValueError("an entry needs an event id")
    seq, prev_hash = head[0] + 1, head[1]
    row: dict[str, Any] = {
        "seq": seq,
        "event_id": event_id,
        "communication_id": communication_id,
        "doc_type": doc_type,
        "channel": channel,
        "language": language,
        "status": status.value,
        "at": at,
        "reason": reason,
        "evidence": canonical_json(dict(evidence)),
        "document_sha256": document_sha256,
        "template_version": template_version,
        "renderer_version": renderer_version,
        "subject_hmac": subject_hmac,
        "dossier": dossier,
        "hash_version": HASH_VERSION,
        "prev_hash": prev_hash,
    }
    for name in _OPTIONAL_TEXT:
        if row[name] == "":
            row[name] = None
    _check(row, evidence)
    row["row_hash"] = row_hash(row)
    conn.execute(_INSERT_ENTRY, row)
    if evidence:
        conn.execute(
            _INSERT_EVIDENCE,
            [
                {"key": k, "value_sha256": evidence_value_hash(v), "seq": seq}
                for k, v in evidence.items()
            ],
        )
    conn.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": row["row_hash"]})
    return entry_from_row(row)


def _check(row: Mapping[str, Any], evidence: Mapping[str, str]) -> None:
    """What PostgreSQL would refuse, refused on SQLite too; evidence must be text to text."""
    for name, limit in _LIMITS:
        value = row.get(name)
        if isinstance(value, str) and len(value) > limit:
            raise ValueError(f"{name} is longer than {limit} characters")
    for key, value in evidence.items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError("evidence maps text keys to text values")
        if not 1 <= len(key) <= EVIDENCE_KEY_MAX:
            raise ValueError(f"evidence keys have 1 to {EVIDENCE_KEY_MAX} characters")
