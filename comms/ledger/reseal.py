"""Seal-key rotation: count what each key sealed, and reseal old texts with the current key.

A key can be retired once no snapshot or rejected input is sealed with it any more. Resealing
changes only the ciphertext: `content_sha256` and the hash chain cover the plain event, so
`verify()` is unaffected. Each batch is its own transaction, and a row is rewritten only if it
still holds the text that was read, so a purge or another reseal running at the same time wins.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.privacy import Sealer
from comms.ledger.schema import events, rejections

BATCH = 500  # rows per transaction: short write locks on SQLite


@dataclass
class SealCensus:
    """How many held texts each key sealed (`{"2027a:1f0c…": n, "derived": n}`), per kind of row."""

    snapshots: Counter[str] = field(default_factory=Counter)
    rejections: Counter[str] = field(default_factory=Counter)


@dataclass
class ResealReport:
    """What a reseal did (or, dry, would do); counts only, never contents."""

    current_key: str  # `id:fingerprint`, or `derived`
    before: SealCensus  # what the pass found, by key, before it resealed
    snapshots: int = 0
    rejections: int = 0


@dataclass(frozen=True)
class _Kind:
    """One table holding sealed texts: how to page it and which AEAD label binds each row."""

    table: sa.Table
    key: sa.Column[Any]
    text: sa.Column[Any]
    label: Callable[[Any], str]
    row_name: str  # for errors: ids only, never contents

    def open(self, sealer: Sealer, key: Any, text: str) -> str:
        try:
            return sealer.open(text, label=self.label(key))
        except ValueError as exc:
            raise ValueError(f"{self.row_name} {key}: {exc}") from None


def _kinds(event_label: Callable[[str], str], rejection_label: str) -> dict[str, _Kind]:
    return {
        "snapshots": _Kind(
            events, events.c.event_id, events.c.snapshot, lambda k: event_label(str(k)), "event"
        ),
        "rejections": _Kind(
            rejections, rejections.c.id, rejections.c.raw, lambda _: rejection_label, "rejection"
        ),
    }


def _pages(connect: Callable[[], Connection], kind: _Kind) -> Iterator[list[tuple[Any, str]]]:
    """Held texts in key order, a batch at a time, each batch read in its own connection."""
    after: Any = None
    while True:
        stmt = sa.select(kind.key, kind.text).where(kind.text.is_not(None))
        if after is not None:
            stmt = stmt.where(kind.key > after)
        with connect() as conn:
            rows = [
                (k, str(text)) for k, text in conn.execute(stmt.order_by(kind.key).limit(BATCH))
            ]
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def census(
    connect: Callable[[], Connection], event_label: Callable[[str], str], rejection_label: str
) -> SealCensus:
    """Counts held texts by sealing key (read from each text's format tag)."""
    result = SealCensus()
    for name, kind in _kinds(event_label, rejection_label).items():
        counts: Counter[str] = getattr(result, name)
        for rows in _pages(connect, kind):
            counts.update(Sealer.key_of(text) for _, text in rows)
    return result


def reseal(
    *,
    connect: Callable[[], Connection],
    write: Callable[[], AbstractContextManager[Connection]],
    sealer: Sealer,
    event_label: Callable[[str], str],
    rejection_label: str,
    dry_run: bool = False,
) -> ResealReport:
    """Reseals every held text not sealed with the current key; opening checks each one first.

    One pass per table: the census of what it found is taken from the same pages it reseals.
    """
    report = ResealReport(sealer.current_key, SealCensus())
    for name, kind in _kinds(event_label, rejection_label).items():
        found: Counter[str] = getattr(report.before, name)
        done = 0
        for rows in _pages(connect, kind):
            keys = [Sealer.key_of(text) for _, text in rows]
            found.update(keys)
            stale = [row for row, key in zip(rows, keys, strict=True) if key != sealer.current_key]
            if not stale:
                continue
            if dry_run:
                for k, text in stale:
                    kind.open(sealer, k, text)  # a text that will not open is found now
                done += len(stale)
                continue
            with write() as conn:
                for k, text in stale:
                    fresh = sealer.seal(kind.open(sealer, k, text), label=kind.label(k))
                    changed = conn.execute(
                        sa.update(kind.table)
                        .where(kind.key == k, kind.text == text)
                        .values({kind.text.name: fresh})
                    )
                    done += changed.rowcount
        setattr(report, name, done)
    return report
