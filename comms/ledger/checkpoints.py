"""Checkpoints: the chain's head written outside the database, so a rewritten history shows.

The hash chain alone cannot catch someone who rewrites every row from some point to the end and
the head as well: the new chain is valid on its own. A checkpoint (seq and row hash of both
chains, at a moment) kept where the application cannot write (a WORM bucket, the fund's audit
log, the monthly report) pins the first `seq` rows: if any of them changed, the row at the
checkpoint's seq no longer has the checkpoint's hash.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, fields
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.chain import GENESIS, canonical_json, format_at
from comms.ledger.schema import chain_head, entries, tombstone_head, tombstones

_HASH = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Checkpoint:
    """One line of a checkpoint file: both chains' heads when it was made."""

    made_at: str
    seq: int
    row_hash: str
    tombstone_seq: int
    tombstone_hash: str

    def to_line(self) -> str:
        return canonical_json(asdict(self))

    @classmethod
    def from_line(cls, line: str) -> Checkpoint:
        try:
            data = json.loads(line)
        except ValueError:
            raise ValueError("not a checkpoint line (not JSON)") from None
        if not isinstance(data, dict) or set(data) != _FIELDS:
            raise ValueError("not a checkpoint line (other fields)")
        seqs_ok = all(type(data[k]) is int and data[k] >= 0 for k in ("seq", "tombstone_seq"))
        hashes_ok = all(
            isinstance(data[k], str) and _HASH.fullmatch(data[k])
            for k in ("row_hash", "tombstone_hash")
        )
        if not (seqs_ok and hashes_ok and isinstance(data["made_at"], str)):
            raise ValueError("not a checkpoint line (a value of the wrong kind)")
        return cls(**data)


_FIELDS = {f.name for f in fields(Checkpoint)}


@dataclass(frozen=True)
class Finding:
    """A checkpoint the ledger no longer agrees with: which chain, and where."""

    line: int  # 1-based, in the file the checkpoints came from
    chain: str  # "entries" or "tombstones"
    seq: int
    reason: str  # seqs and hashes only


def make(conn: Connection, made_at: datetime) -> Checkpoint:
    """The heads as they are in this transaction."""
    head = conn.execute(sa.select(chain_head.c.seq, chain_head.c.row_hash)).one()
    stones = conn.execute(sa.select(tombstone_head.c.seq, tombstone_head.c.row_hash)).one()
    return Checkpoint(
        made_at=format_at(made_at),
        seq=int(head.seq),
        row_hash=str(head.row_hash),
        tombstone_seq=int(stones.seq),
        tombstone_hash=str(stones.row_hash),
    )


def check(conn: Connection, checkpoints: Iterable[tuple[int, Checkpoint]]) -> list[Finding]:
    """Each checkpoint's row must still be there with the same hash, in both chains."""
    findings: list[Finding] = []
    for line, point in checkpoints:
        for chain, table, seq, expected in (
            ("entries", entries, point.seq, point.row_hash),
            ("tombstones", tombstones, point.tombstone_seq, point.tombstone_hash),
        ):
            reason = _disagrees(conn, table, seq, expected)
            if reason:
                findings.append(Finding(line, chain, seq, reason))
    return findings


def _disagrees(conn: Connection, table: sa.Table, seq: int, expected: str) -> str | None:
    if seq == 0:
        return None if expected == GENESIS else "an empty chain has no other head"
    found = conn.execute(sa.select(table.c.row_hash).where(table.c.seq == seq)).scalar_one_or_none()
    if found is None:
        return f"row {seq} is gone"
    if found != expected:
        return f"row {seq} now hashes to {found[:12]}…, the checkpoint says {expected[:12]}…"
    return None
