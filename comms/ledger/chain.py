"""The hash chain: how a row's hash is computed and how the rows are checked against the head."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from comms.ledger.records import VerifyResult

GENESIS = "0" * 64  # prev_hash of seq 1
HASH_VERSION = 1  # bump (and keep the old recipe) if the hashed fields ever change

# Every column of `entries` except row_hash. None of them holds personal data in clear, so purging
# snapshots and documents never touches what is hashed here.
HASHED_FIELDS_V1 = (
    "seq",
    "event_id",
    "communication_id",
    "doc_type",
    "channel",
    "language",
    "status",
    "at",
    "reason",
    "evidence",
    "document_sha256",
    "template_version",
    "renderer_version",
    "subject_hmac",
    "dossier",
    "hash_version",
    "prev_hash",
)


def canonical_json(value: Any) -> str:
    """One spelling per value (sorted keys, no spaces, UTF-8 kept): equal content, equal hash."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def format_at(at: datetime) -> str:
    """UTC to the microsecond, the precision both SQLite and PostgreSQL give back."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def row_hash(row: Mapping[Any, Any]) -> str:
    """SHA-256 of the canonical JSON of the row's hashed fields (prev_hash included: the link)."""
    if row["hash_version"] != HASH_VERSION:
        raise ValueError(f"unknown hash_version {row['hash_version']!r}")
    material = {name: row[name] for name in HASHED_FIELDS_V1}
    material["at"] = format_at(row["at"])
    return hashlib.sha256(canonical_json(material).encode("utf-8")).hexdigest()


def verify_rows(
    rows: Iterable[Mapping[Any, Any]],
    head_seq: int,
    head_hash: str,
    *,
    hasher: Callable[[Mapping[Any, Any]], str] = row_hash,
) -> VerifyResult:
    """Walks rows in seq order from seq 1; the first gap, broken link or altered row stops it.

    `hasher` recomputes a row's hash: the entries' recipe by default, the tombstones' for those.
    """
    expected_seq, prev, count = 1, GENESIS, 0

    def broken(seq: int, reason: str) -> VerifyResult:
        return VerifyResult(
            ok=False, checked=count, first_broken_seq=seq, reason=reason, head_seq=head_seq
        )

    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            return broken(expected_seq, "row missing: seq is not contiguous")
        if row["prev_hash"] != prev:
            return broken(seq, "prev_hash does not match the previous row's hash")
        if hasher(row) != row["row_hash"]:
            return broken(seq, "row_hash does not match the row's content")
        prev, expected_seq, count = row["row_hash"], seq + 1, count + 1
    if head_seq > count:
        return broken(count + 1, "rows missing at the end: the chain head is further")
    if head_seq < count:
        return broken(head_seq + 1, "rows beyond the chain head were not appended by the ledger")
    if prev != head_hash:
        return broken(count, "last row_hash differs from the chain head")
    return VerifyResult(ok=True, checked=count, head_seq=head_seq)
