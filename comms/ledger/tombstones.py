"""Tombstones: the hash-chained record of what a purge removed, so absence is provably lawful."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.chain import GENESIS, canonical_json, format_at
from comms.ledger.records import Tombstone, from_row
from comms.ledger.schema import tombstone_head, tombstones

TOMBSTONE_HASH_VERSION = 1
KINDS = ("snapshot", "document", "wrappings", "rejection")  # what a purge may remove

# Every column except row_hash, as for entries (comms/ledger/chain.py).
HASHED_FIELDS_V1 = (
    "seq",
    "at",
    "kind",
    "event_id",
    "rejection_id",
    "doc_type",
    "content_sha256",
    "rule",
    "retained_until",
    "actor",
    "chain_seq",
    "hash_version",
    "prev_hash",
)


def tombstone_hash(row: Mapping[Any, Any]) -> str:
    """SHA-256 of the canonical JSON of the hashed fields; dates as ISO, times as in entries."""
    if row["hash_version"] != TOMBSTONE_HASH_VERSION:
        raise ValueError(f"unknown tombstone hash_version {row['hash_version']!r}")
    material = {name: row[name] for name in HASHED_FIELDS_V1}
    material["at"] = format_at(row["at"])
    until = row["retained_until"]
    material["retained_until"] = until.isoformat() if isinstance(until, date) else str(until)
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


def lock_tombstone_head(conn: Connection) -> tuple[int, str]:
    row = conn.execute(
        sa.select(tombstone_head.c.seq, tombstone_head.c.row_hash)
        .where(tombstone_head.c.id == 1)
        .with_for_update()
    ).one()
    return int(row.seq), str(row.row_hash)


def append_tombstone(
    conn: Connection,
    head: tuple[int, str],
    *,
    at: datetime,
    kind: str,
    content_sha256: str,
    rule: str,
    retained_until: date,
    actor: str,
    chain_seq: int,
    event_id: str | None = None,
    rejection_id: int | None = None,
    doc_type: str | None = None,
) -> Tombstone:
    """Links one tombstone to the head and moves the head; the caller holds both head locks."""
    if kind not in KINDS:
        raise ValueError(f"unknown tombstone kind {kind!r}")
    row: dict[str, Any] = {
        "seq": head[0] + 1,
        "at": at,
        "kind": kind,
        "event_id": event_id,
        "rejection_id": rejection_id,
        "doc_type": doc_type,
        "content_sha256": content_sha256,
        "rule": rule[:200],
        "retained_until": retained_until,
        "actor": actor[:200],
        "chain_seq": chain_seq,
        "hash_version": TOMBSTONE_HASH_VERSION,
        "prev_hash": head[1],
    }
    row["row_hash"] = tombstone_hash(row)
    conn.execute(sa.insert(tombstones).values(**row))
    conn.execute(
        sa.update(tombstone_head)
        .where(tombstone_head.c.id == 1)
        .values(seq=row["seq"], row_hash=row["row_hash"])
    )
    return tombstone_from_row(row)


def tombstone_from_row(row: Mapping[Any, Any]) -> Tombstone:
    return from_row(Tombstone, row, seq=int, chain_seq=int)


def tombstones_for(
    conn: Connection,
    *,
    event_ids: list[str] | None = None,
    content_sha256: str | None = None,
    limit: int | None = None,
) -> list[Tombstone]:
    """Oldest first; by events, by the hash of what was removed, or all (for exports)."""
    stmt = sa.select(tombstones).order_by(tombstones.c.seq)
    if event_ids is not None:
        stmt = stmt.where(tombstones.c.event_id.in_(event_ids))
    if content_sha256 is not None:
        stmt = stmt.where(tombstones.c.content_sha256 == content_sha256)
    if limit is not None:
        stmt = stmt.limit(limit)
    return [tombstone_from_row(row) for row in conn.execute(stmt).mappings()]


__all__ = [
    "GENESIS",
    "KINDS",
    "append_tombstone",
    "lock_tombstone_head",
    "tombstone_from_row",
    "tombstone_hash",
    "tombstones_for",
]
