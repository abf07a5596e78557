"""Purge at the end of retention: snapshots and archived documents go, tombstones say so.

Nothing hashed into `entries` is touched, so the chain verifies before and after. Each removal
is a tombstone in its own chain, naming the hash of what went, the rule and who ran it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.filters import evidence_value_hash
from comms.ledger.records import Tombstone
from comms.ledger.retention import RetentionPolicy
from comms.ledger.schema import chain_head, entries, entry_evidence, events, rejections, tombstones
from comms.ledger.tombstones import append_tombstone, lock_tombstone_head
from comms.models import BRUSSELS, EVIDENCE_WRAPPINGS, Status

if TYPE_CHECKING:
    from comms.archive import Archive

BATCH_EVENTS = 200  # events per write transaction: keeps each lock short for the workers


@dataclass(frozen=True)
class DueEvent:
    """An event whose retention has ended and whose snapshot is still held."""

    event_id: str
    doc_type: str
    accepted_at: datetime


@dataclass
class PurgeReport:
    """What a purge did (or, dry, would do): counts and hashes only, never content."""

    before: date
    dry_run: bool
    events: int = 0
    snapshots: int = 0
    documents: list[str] = field(default_factory=list)  # archive hashes to delete (or deleted)
    kept_shared: list[str] = field(default_factory=list)  # still used by a retained event
    rejections: int = 0
    tombstones: list[Tombstone] = field(default_factory=list)
    missing_files: int = 0  # tombstoned documents that were already gone from the archive


def cutoff(policy: RetentionPolicy, doc_type: str | None, before: date) -> datetime:
    """Content accepted before this instant is past its retention on `before`.

    retained_until = 1 January of (local year + 1 + years) <= before
    ⟺ local year <= before.year - 1 - years ⟺ accepted before 1 January (before.year - years).
    """
    year = before.year - policy.years_for(doc_type)
    return datetime(max(year, 1), 1, 1, tzinfo=BRUSSELS)


def due_events(conn: Connection, policy: RetentionPolicy, before: date) -> list[DueEvent]:
    """Events past retention still holding a snapshot, oldest first."""
    named = list(policy.years_by_type)
    conditions = [
        sa.and_(events.c.doc_type == t, events.c.accepted_at < cutoff(policy, t, before))
        for t in named
    ]
    default_cut = datetime(max(before.year - policy.default_years, 1), 1, 1, tzinfo=BRUSSELS)
    conditions.append(
        sa.and_(events.c.doc_type.not_in(named), events.c.accepted_at < default_cut)
        if named
        else events.c.accepted_at < default_cut
    )
    stmt = (
        sa.select(events.c.event_id, events.c.doc_type, events.c.accepted_at)
        .where(events.c.purged_at.is_(None), sa.or_(*conditions))
        .order_by(events.c.accepted_at, events.c.event_id)
    )
    return [DueEvent(r.event_id, r.doc_type, r.accepted_at) for r in conn.execute(stmt)]


def documents_of(conn: Connection, event_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    """Per event: archive hash → kind (`document` for the PDF, `wrappings` for its texts)."""
    found: dict[str, dict[str, str]] = {e: {} for e in event_ids}
    stmt = sa.select(entries.c.event_id, entries.c.document_sha256, entries.c.evidence).where(
        entries.c.event_id.in_(event_ids),
        sa.or_(entries.c.document_sha256.is_not(None), entries.c.status == Status.RENDERED.value),
    )
    for row in conn.execute(stmt):
        if row.document_sha256:
            found[row.event_id][row.document_sha256] = "document"
        wrappings = json.loads(row.evidence).get(EVIDENCE_WRAPPINGS)
        if wrappings:
            found[row.event_id][wrappings] = "wrappings"
    return found


def still_needed(conn: Connection, shas: Iterable[str], purging: Sequence[str]) -> set[str]:
    """Hashes also used by an event that is neither being purged nor purged already.

    The archive is content-addressed: two events may share identical bytes, and the one whose
    retention runs longer keeps the file.
    """
    wanted = set(shas)
    if not wanted:
        return set()
    retained = sa.select(events.c.event_id).where(events.c.purged_at.is_(None))
    by_document = sa.select(entries.c.document_sha256.label("sha")).where(
        entries.c.document_sha256.in_(wanted),
        entries.c.event_id.not_in(purging),
        entries.c.event_id.in_(retained),
    )
    needed = {row.sha for row in conn.execute(by_document)}
    hashed = {evidence_value_hash(sha): sha for sha in wanted}
    by_wrappings = (
        sa.select(entry_evidence.c.value_sha256, entries.c.evidence)
        .join(entries, entries.c.seq == entry_evidence.c.seq)
        .where(
            entry_evidence.c.key == EVIDENCE_WRAPPINGS,
            entry_evidence.c.value_sha256.in_(hashed),
            entries.c.event_id.not_in(purging),
            entries.c.event_id.in_(retained),
        )
    )
    for row in conn.execute(by_wrappings):
        sha = hashed[row.value_sha256]
        if json.loads(row.evidence).get(EVIDENCE_WRAPPINGS) == sha:
            needed.add(sha)
    return needed


def already_tombstoned(conn: Connection, shas: Iterable[str]) -> set[str]:
    wanted = set(shas)
    if not wanted:
        return set()
    stmt = sa.select(tombstones.c.content_sha256).where(
        tombstones.c.content_sha256.in_(wanted), tombstones.c.kind.in_(("document", "wrappings"))
    )
    return {row.content_sha256 for row in conn.execute(stmt)}


def purge_events(
    conn: Connection,
    batch: Sequence[DueEvent],
    documents: dict[str, dict[str, str]],
    *,
    delete: set[str],
    policy: RetentionPolicy,
    actor: str,
    now: datetime,
) -> list[Tombstone]:
    """One write transaction: a tombstone per snapshot and per document, snapshots set to NULL."""
    head = lock_tombstone_head(conn)
    chain_seq = int(conn.execute(sa.select(chain_head.c.seq)).scalar_one())
    written: list[Tombstone] = []
    done: set[str] = already_tombstoned(conn, delete)
    for due in batch:
        row = conn.execute(
            sa.select(events.c.content_sha256, events.c.purged_at).where(
                events.c.event_id == due.event_id
            )
        ).one()
        if row.purged_at is not None:  # another purge got there first
            continue
        common: dict[str, Any] = {
            "at": now,
            "rule": policy.rule(due.doc_type),
            "retained_until": policy.retained_until(due.doc_type, due.accepted_at),
            "actor": actor,
            "chain_seq": chain_seq,
            "event_id": due.event_id,
            "doc_type": due.doc_type,
        }
        stone = append_tombstone(
            conn, head, kind="snapshot", content_sha256=row.content_sha256, **common
        )
        written.append(stone)
        head = (stone.seq, stone.row_hash)
        for sha, kind in sorted(documents.get(due.event_id, {}).items()):
            if sha not in delete or sha in done:
                continue
            stone = append_tombstone(conn, head, kind=kind, content_sha256=sha, **common)
            written.append(stone)
            head = (stone.seq, stone.row_hash)
            done.add(sha)
        conn.execute(
            sa.update(events)
            .where(events.c.event_id == due.event_id)
            .values(snapshot=None, purged_at=now)
        )
    return written


def due_rejections(
    conn: Connection, policy: RetentionPolicy, before: date
) -> list[tuple[int, datetime, str]]:
    """(id, received_at, sealed raw) of rejected inputs past retention, still held."""
    stmt = (
        sa.select(rejections.c.id, rejections.c.received_at, rejections.c.raw)
        .where(
            rejections.c.raw.is_not(None),
            rejections.c.received_at < cutoff(policy, None, before),
        )
        .order_by(rejections.c.id)
    )
    return [(int(r.id), r.received_at, r.raw) for r in conn.execute(stmt)]


def purge_rejection(
    conn: Connection,
    *,
    rejection_id: int,
    received_at: datetime,
    content_sha256: str,
    policy: RetentionPolicy,
    actor: str,
    now: datetime,
) -> Tombstone | None:
    """None when another purge got there first (checked under the tombstones' lock)."""
    head = lock_tombstone_head(conn)
    held = conn.execute(sa.select(rejections.c.raw).where(rejections.c.id == rejection_id))
    if held.scalar_one() is None:
        return None
    chain_seq = int(conn.execute(sa.select(chain_head.c.seq)).scalar_one())
    stone = append_tombstone(
        conn,
        head,
        at=now,
        kind="rejection",
        content_sha256=content_sha256,
        rule=policy.rule(None),
        retained_until=policy.retained_until(None, received_at),
        actor=actor,
        chain_seq=chain_seq,
        rejection_id=rejection_id,
    )
    conn.execute(
        sa.update(rejections).where(rejections.c.id == rejection_id).values(raw=None, purged_at=now)
    )
    return stone


def tombstoned_documents(conn: Connection) -> list[str]:
    """Every archive hash a tombstone says was removed (to finish an interrupted purge)."""
    stmt = sa.select(tombstones.c.content_sha256).where(
        tombstones.c.kind.in_(("document", "wrappings"))
    )
    return [row.content_sha256 for row in conn.execute(stmt)]


def all_documents(conn: Connection) -> Iterator[str]:
    """Distinct archive hashes named by entries: PDFs, then the wrappings of `rendered` rows."""
    stmt = sa.select(entries.c.document_sha256).where(entries.c.document_sha256.is_not(None))
    yield from (row[0] for row in conn.execute(stmt.distinct()))
    wrapped = sa.select(entries.c.evidence).where(entries.c.status == Status.RENDERED.value)
    seen: set[str] = set()
    for row in conn.execute(wrapped.execution_options(yield_per=1000)):
        sha = json.loads(row.evidence).get(EVIDENCE_WRAPPINGS)
        if sha and sha not in seen:
            seen.add(sha)
            yield sha


def run(
    *,
    read: Callable[[], AbstractContextManager[Connection]],
    write: Callable[[], AbstractContextManager[Connection]],
    now: Callable[[], datetime],
    open_rejection: Callable[[str], str],
    before: date,
    policy: RetentionPolicy,
    archive: Archive,
    actor: str,
    dry_run: bool,
) -> PurgeReport:
    """Tombstones first (one transaction per batch), files after: an interrupted purge leaves
    tombstoned files behind, which the next run deletes; never a file gone without a trace."""
    report = PurgeReport(before=before, dry_run=dry_run)
    with read() as conn:
        due = due_events(conn, policy, before)
        rejected = due_rejections(conn, policy, before)
    for start in range(0, len(due), BATCH_EVENTS):
        batch = due[start : start + BATCH_EVENTS]
        ids = [d.event_id for d in batch]
        with read() as conn:
            documents = documents_of(conn, ids)
            shas = {sha for found in documents.values() for sha in found}
            keep = still_needed(conn, shas, ids)
        delete = shas - keep
        report.kept_shared.extend(sorted(keep))
        if dry_run:
            report.events += len(batch)
            report.snapshots += len(batch)
            report.documents.extend(sorted(delete))
            continue
        with write() as conn:
            written = purge_events(
                conn, batch, documents, delete=delete, policy=policy, actor=actor, now=now()
            )
        report.tombstones.extend(written)
        purged = sum(1 for t in written if t.kind == "snapshot")
        report.events += purged
        report.snapshots += purged
        report.documents.extend(
            t.content_sha256 for t in written if t.kind in ("document", "wrappings")
        )
    for rejection_id, received_at, sealed in rejected:
        if dry_run:
            report.rejections += 1
            continue
        raw = open_rejection(sealed)
        with write() as conn:
            grave = purge_rejection(
                conn,
                rejection_id=rejection_id,
                received_at=received_at,
                content_sha256=hashlib.sha256(raw.encode("utf-8")).hexdigest(),
                policy=policy,
                actor=actor,
                now=now(),
            )
        if grave is not None:
            report.rejections += 1
            report.tombstones.append(grave)
    if not dry_run:
        with read() as conn:
            gone = tombstoned_documents(conn)
        for sha in gone:
            if not archive.delete(sha) and sha in report.documents:
                report.missing_files += 1
    return report
