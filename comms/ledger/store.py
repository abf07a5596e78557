"""The `Ledger`: accepts events, appends state changes to the hash chain, answers queries."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, date, datetime, timedelta
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from comms.errors import DuplicateEvent, FieldError
from comms.ledger import checkpoints, facts, purge, queries, reports, reseal
from comms.ledger.append import append, lock_head
from comms.ledger.chain import canonical_json, verify_rows
from comms.ledger.dates import key_dates
from comms.ledger.engine import WRITE_OPTION, make_engine
from comms.ledger.export import Format, pieces, write
from comms.ledger.filters import Filters
from comms.ledger.privacy import Sealer, UnknownSealKey, is_valid_subject_id, subject_hmac
from comms.ledger.records import (
    AcceptResult,
    DocumentView,
    Entry,
    EventInfo,
    IllegalTransition,
    Rejection,
    SnapshotMismatch,
    Tombstone,
    UnknownEvent,
    VerifyResult,
    from_row,
    optional,
)
from comms.ledger.retention import RetentionPolicy
from comms.ledger.schema import (
    chain_head,
    entries,
    event_dates,
    events,
    rejections,
    tombstone_head,
    tombstones,
)
from comms.ledger.tombstones import tombstone_hash, tombstones_for
from comms.ledger.views import ViewFilters, find_views, insert_view
from comms.models import BRUSSELS, ChannelName, Language, Status

if TYPE_CHECKING:
    from comms.archive import Archive
    from comms.settings import Settings

MIGRATION_LOCK_KEY = 0x636F6D6D73  # "comms": PostgreSQL advisory lock held while migrating
_REJECTION_LABEL = "rejection"  # AEAD label of a sealed rejected input
# Statements of every letter's path, built once as the appends' are (comms/ledger/append.py).
_KNOWN_CONTENT = sa.select(events.c.content_sha256).where(
    events.c.event_id == sa.bindparam("event_id")
)
_INSERT_EVENT = sa.insert(events)
# The state a new row follows (models.TRANSITIONS): the communication's latest, or the event's own.
_LATEST_OF_COMMUNICATION = (
    sa.select(entries.c.status)
    .where(entries.c.communication_id == sa.bindparam("communication_id"))
    .order_by(entries.c.seq.desc())
    .limit(1)
)
_LATEST_OF_EVENT = (
    sa.select(entries.c.status)
    .where(entries.c.event_id == sa.bindparam("event_id"), entries.c.communication_id.is_(None))
    .order_by(entries.c.seq.desc())
    .limit(1)
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Ledger:
    """The system of record; one per process, safe to share between threads (short transactions)."""

    def __init__(
        self,
        database_url: str,
        hmac_secret: str,
        *,
        seal_keys: Sequence[tuple[str, bytes]] = (),
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        if not hmac_secret:
            raise ValueError("the ledger needs a non-empty HMAC secret")
        self._secret = hmac_secret.encode("utf-8")
        self._sealer = Sealer(self._secret, seal_keys)
        self._engine = make_engine(database_url)
        self._writer = self._engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock
        self._pid = os.getpid()

    @classmethod
    def from_settings(
        cls, settings: Settings, *, clock: Callable[[], datetime] | None = None
    ) -> Ledger:
        """`clock`: when the ledger says things happened (tests that need the past); now by default."""
        return cls(
            settings.effective_database_url,
            settings.hmac_secret.get_secret_value(),
            seal_keys=settings.seal_key_ring,
            clock=clock or _utcnow,
        )

    def __repr__(self) -> str:  # no URL: it may carry a password
        return f"Ledger(dialect={self._engine.dialect.name!r})"

    def close(self) -> None:
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # --- connections ----------------------------------------------------------------------------

    def _fresh_pool(self) -> None:
        # A forked child must not reuse its parent's sockets or SQLite handles.
        if os.getpid() != self._pid:
            self._engine.dispose(close=False)
            self._pid = os.getpid()

    def _write(self) -> AbstractContextManager[Connection]:
        """One write transaction (SQLite: BEGIN IMMEDIATE); commits on success."""
        self._fresh_pool()
        return self._writer.begin()

    def _read(self) -> Connection:
        self._fresh_pool()
        return self._engine.connect()

    @property
    def engine(self) -> Engine:
        """For migrations, tests and exports; callers should prefer the methods."""
        return self._engine

    @property
    def sealer(self) -> Sealer:
        """The process's one Sealer from the seal keys: the webhook store seals with it too."""
        return self._sealer

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # --- schema ---------------------------------------------------------------------------------

    def ping(self) -> None:
        """Raises if the database does not answer (for health checks)."""
        with self._engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    def migrate(self) -> None:
        """Alembic `upgrade head`, serialised so that many workers may start at once."""
        from alembic import command

        from comms.migrations import alembic_config

        config = alembic_config()
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
                conn.execute(lock, {"key": MIGRATION_LOCK_KEY})
            config.attributes["connection"] = conn
            command.upgrade(
                config, "heads"
            )  # independent branches (ledger, templates, queue) may coexist

    # --- writes ---------------------------------------------------------------------------------

    def accept_event(
        self,
        *,
        event_id: str,
        doc_type: str,
        content_sha256: str,
        snapshot_json: str,
        subject_id: str,
        dossier: str,
        language: Language | str,
        source: str | None = None,
    ) -> AcceptResult:
        """Records a validated event once; a redelivery is harmless, a changed one a conflict.

        `source` (`http:<producer>`, a file and line) is chained with the acceptance: the API
        shows a producer only its own events. A conflict is kept among the rejections, as hashes.
        """
        if hashlib.sha256(snapshot_json.encode("utf-8")).hexdigest() != content_sha256:
            raise ValueError("content_sha256 is not the SHA-256 of snapshot_json")
        if not is_valid_subject_id(subject_id):
            raise ValueError("subject_id is neither a national nor an enterprise number")
        lang = Language(language)
        subject = subject_hmac(self._secret, subject_id)
        with self._write() as conn:
            head = lock_head(conn)  # first: from here on no other writer can interleave
            known = conn.execute(_KNOWN_CONTENT, {"event_id": event_id}).scalar_one_or_none()
            if known == content_sha256:
                return AcceptResult(event_id=event_id, new=False)
            if known is not None:
                conflict = (
                    f"conflict: accepted as sha256:{known}, sent again as sha256:{content_sha256}"
                )
                errors = [FieldError("event_id", conflict)]
                self._keep(conn, source or "", None, errors, event_id, self._now())
                # Committed without the exception: the trace stays, nothing else was written.
                conn.commit()
                raise DuplicateEvent(f"event {event_id} was accepted before with other content")
            now = self._now()
            entry = append(
                conn,
                head,
                at=now,
                event_id=event_id,
                status=Status.ACCEPTED,
                doc_type=doc_type,
                language=lang.value,
                subject_hmac=subject,
                dossier=dossier,
                # The snapshot itself is purgeable; its hash in the chain is what stays provable.
                evidence={
                    "content_sha256": content_sha256,
                    **({"source": source} if source else {}),
                },
            )
            conn.execute(
                _INSERT_EVENT,
                {
                    "event_id": event_id,
                    "doc_type": doc_type,
                    "content_sha256": content_sha256,
                    "subject_hmac": subject,
                    "dossier": dossier,
                    "language": lang.value,
                    "accepted_at": now,
                    "snapshot": self._sealer.seal(snapshot_json, label=_event_label(event_id)),
                },
            )
            _insert_dates(conn, event_id, key_dates(snapshot_json))
        return AcceptResult(event_id=event_id, new=True, seq=entry.seq)

    def reject(
        self,
        *,
        source: str,
        raw: str,
        errors: list[FieldError],
        event_id: str | None = None,
        doc_type: str | None = None,
    ) -> int:
        """Keeps an invalid input and its field errors; chains a `rejected` entry when it can.

        No entry is chained when the id is unknown (nothing to hang it on) or already belongs to an
        accepted event: a bad redelivery must not make a letter in progress look rejected.
        """
        now = self._now()
        with self._write() as conn:
            head = lock_head(conn) if event_id is not None else None
            rejection_id = self._keep(conn, source, raw, errors, event_id, now)
            if head is not None and event_id is not None and not _event_exists(conn, event_id):
                append(
                    conn,
                    head,
                    at=now,
                    event_id=event_id,
                    status=Status.REJECTED,
                    doc_type=doc_type,
                    reason="; ".join(str(e) for e in errors) or None,
                    evidence={"rejection_id": str(rejection_id), "source": source[:200]},
                )
        return rejection_id

    def _keep(
        self,
        conn: Connection,
        source: str,
        raw: str | None,
        errors: list[FieldError],
        event_id: str | None,
        at: datetime,
    ) -> int:
        """One row of `rejections`: the input sealed (None: hashes only), the errors in clear."""
        inserted = conn.execute(
            sa.insert(rejections)
            .values(
                received_at=at,
                source=source[:200],
                event_id=event_id,
                raw=None if raw is None else self._sealer.seal(raw, label=_REJECTION_LABEL),
                errors=canonical_json([e.as_dict() for e in errors]),
            )
            .returning(rejections.c.id)
        )
        return int(inserted.scalar_one())

    def record(
        self,
        *,
        event_id: str,
        status: Status,
        communication_id: str | None = None,
        channel: ChannelName | str | None = None,
        reason: str | None = None,
        evidence: Mapping[str, str] | None = None,
        document_sha256: str | None = None,
        template_version: str | None = None,
        renderer_version: str | None = None,
    ) -> Entry:
        """Appends one state change of an accepted event; the event's facts are copied onto it.

        The change must follow from the latest state of its communication (or, for event-level
        rows, of the event) by `models.TRANSITIONS`, checked under the chain's lock.
        """
        status = Status(status)
        if status in (Status.ACCEPTED, Status.REJECTED):
            raise ValueError(f"{status.value} is recorded by accept_event/reject, not record")
        with self._write() as conn:
            event = conn.execute(facts.CHAINED_FACTS, {"event_id": event_id}).one_or_none()
            if event is None:
                raise UnknownEvent(f"event {event_id} was never accepted")
            scope = status.event_level
            if scope is not None and scope != (communication_id is None):
                where = "an event" if scope else "a communication"
                raise IllegalTransition(f"{status.value} is a state of {where}")
            head = lock_head(conn)
            if communication_id is None:
                before = conn.execute(_LATEST_OF_EVENT, {"event_id": event_id}).scalar()
            else:
                before = conn.execute(
                    _LATEST_OF_COMMUNICATION, {"communication_id": communication_id}
                ).scalar()
            previous = Status(before) if before is not None else None
            if not status.may_follow(previous):
                was = previous.value if previous else "nothing"
                raise IllegalTransition(f"{status.value} does not follow {was}")
            return append(
                conn,
                head,
                at=self._now(),
                event_id=event_id,
                status=status,
                communication_id=communication_id,
                channel=ChannelName(channel).value if channel is not None else None,
                reason=reason,
                evidence=evidence or {},
                document_sha256=document_sha256,
                template_version=template_version,
                renderer_version=renderer_version,
                doc_type=event.doc_type,
                language=event.language,
                subject_hmac=event.subject_hmac,
                dossier=event.dossier,
            )

    # --- reads ----------------------------------------------------------------------------------

    def latest_for(self, communication_id: str) -> Entry | None:
        with self._read() as conn:
            return queries.latest_for(conn, communication_id)

    def history(self, event_id: str) -> list[Entry]:
        """Every entry of the event, oldest first."""
        with self._read() as conn:
            return queries.history(conn, event_id)

    def statuses(self, event_id: str) -> dict[str | None, Status]:
        """Latest status per communication id; the None key holds event-level rows."""
        with self._read() as conn:
            return queries.statuses(conn, event_id)

    def find_by_evidence(self, key: str, value: str) -> Entry | None:
        with self._read() as conn:
            return queries.find_by_evidence(conn, key, value)

    def event_snapshot(self, event_id: str) -> str | None:
        """The accepted event JSON, checked against its hash; None if unknown or purged."""
        with self._read() as conn:
            row = conn.execute(
                sa.select(events.c.snapshot, events.c.content_sha256).where(
                    events.c.event_id == event_id
                )
            ).one_or_none()
        if row is None or row.snapshot is None:
            return None
        try:
            snapshot = self._sealer.open(row.snapshot, label=_event_label(event_id))
        except UnknownSealKey:
            raise  # a settings problem, not an altered row: the caller retries once it is fixed
        except ValueError:
            raise SnapshotMismatch(f"snapshot of event {event_id} does not open") from None
        if hashlib.sha256(snapshot.encode("utf-8")).hexdigest() != row.content_sha256:
            raise SnapshotMismatch(f"snapshot of event {event_id} does not match its hash")
        return snapshot

    def subject_hmac(self, subject_id: str) -> str:
        """The keyed hash under which a national or enterprise number can be searched."""
        if not is_valid_subject_id(subject_id):
            raise ValueError("not a valid national or enterprise number")
        return subject_hmac(self._secret, subject_id)

    def search(
        self, filters: Filters | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[Entry]:
        """Entries newest first; a person is searched by `Ledger.subject_hmac` of the number."""
        with self._read() as conn:
            return queries.search(conn, filters or Filters(), limit=limit, offset=offset)

    def count(self, filters: Filters) -> int:
        with self._read() as conn:
            return queries.count(conn, filters)

    def export(
        self,
        filters: Filters,
        out: IO[str],
        fmt: Format,
        *,
        on_row: Callable[[], None] | None = None,
    ) -> int:
        """Streams every matching row, oldest first, as CSV or JSONL; returns the count."""
        with self._read() as conn:
            return write(queries.iter_rows(conn, filters), out, fmt, on_row=on_row)

    def iter_export(self, filters: Filters, fmt: Format) -> Iterator[str]:
        """The same export in pieces of text, for streaming HTTP responses."""
        with self._read() as conn:
            yield from pieces(queries.iter_rows(conn, filters), fmt)

    def event(self, event_id: str) -> EventInfo | None:
        with self._read() as conn:
            stmt = sa.select(events).where(events.c.event_id == event_id)
            row = conn.execute(stmt).mappings().one_or_none()
        return _event_info(row) if row is not None else None

    def events_of(self, subject: str, *, limit: int = 10_000) -> list[EventInfo]:
        """Every event sent to one person or company (by its HMAC), oldest first.

        Found and described by their chained `accepted` rows, so an altered `events` row can
        neither hand a letter to someone else nor hide it from its addressee.
        """
        with self._read() as conn:
            return facts.chained_events(conn, subject, limit=limit)

    def documents_of(self, event_id: str) -> dict[str, str]:
        """The archived files of one event: hash → `document` (the PDF) or `wrappings` (texts)."""
        with self._read() as conn:
            return purge.documents_of(conn, [event_id])[event_id]

    def all_documents(self) -> Iterator[str]:
        """Every archive hash the log names (documents and their wrappings), each once."""
        with self._read() as conn:
            yield from purge.all_documents(conn)

    def tombstoned_documents(self) -> set[str]:
        with self._read() as conn:
            return set(purge.tombstoned_documents(conn))

    # --- who opened what ------------------------------------------------------------------------

    def record_view(
        self,
        *,
        document_sha256: str,
        event_id: str | None,
        viewer: str,
        purpose: str | None = None,
    ) -> DocumentView:
        """Records an opening before the document is shown: no record, no document."""
        with self._write() as conn:
            return insert_view(
                conn,
                document_sha256=document_sha256,
                event_id=event_id,
                viewer=viewer,
                purpose=purpose,
                at=self._now(),
            )

    def views(
        self, filters: ViewFilters | None = None, *, limit: int = 100, offset: int = 0
    ) -> list[DocumentView]:
        """Openings of documents, newest first."""
        queries.check_page(limit, offset)
        with self._read() as conn:
            return find_views(conn, filters or ViewFilters(), limit=limit, offset=offset)

    # --- retention ------------------------------------------------------------------------------

    def tombstones(
        self, *, event_ids: list[str] | None = None, content_sha256: str | None = None
    ) -> list[Tombstone]:
        with self._read() as conn:
            return tombstones_for(conn, event_ids=event_ids, content_sha256=content_sha256)

    def purge(
        self,
        before: date,
        policy: RetentionPolicy,
        archive: Archive,
        *,
        actor: str,
        dry_run: bool = False,
    ) -> purge.PurgeReport:
        """Removes snapshots, rejected inputs and archived documents past retention on `before`."""
        today = self._now().astimezone(BRUSSELS).date()
        if before > today:
            raise ValueError("a purge cannot look ahead: the date is later than today")
        return purge.run(
            read=self._read,
            write=self._write,
            now=self._now,
            open_rejection=lambda sealed: self._sealer.open(sealed, label=_REJECTION_LABEL),
            before=before,
            policy=policy,
            archive=archive,
            actor=actor,
            dry_run=dry_run,
        )

    def checkpoint(self) -> tuple[VerifyResult, checkpoints.Checkpoint]:
        """Both chains verified and their heads taken in one snapshot, for keeping elsewhere.

        The caller keeps the checkpoint only if the result is ok: a checkpoint pins what it
        verified, no more.
        """
        with self._snapshot() as conn:
            return self._verify_in(conn), checkpoints.make(conn, self._now())

    def check_checkpoints(
        self, found: Iterable[tuple[int, checkpoints.Checkpoint]]
    ) -> list[checkpoints.Finding]:
        """Checkpoints (with their line numbers) the ledger no longer agrees with; none: all hold."""
        with self._snapshot() as conn:
            return checkpoints.check(conn, found)

    def seal_census(self) -> reseal.SealCensus:
        """How many held snapshots and rejected inputs each seal key sealed."""
        return reseal.census(self._read, _event_label, _REJECTION_LABEL)

    def reseal(self, *, dry_run: bool = False) -> reseal.ResealReport:
        """Reseals with the current seal key whatever an older key sealed (key rotation)."""
        return reseal.reseal(
            connect=self._read,
            write=self._write,
            sealer=self._sealer,
            event_label=_event_label,
            rejection_label=_REJECTION_LABEL,
            dry_run=dry_run,
        )

    # --- reports --------------------------------------------------------------------------------

    def communication_summaries(
        self, since: datetime | None, until: datetime | None
    ) -> Iterator[reports.CommunicationSummary]:
        """One line per communication that started in [since, until), streamed."""
        with self._read() as conn:
            yield from reports.communication_summaries(conn, since=since, until=until)

    def dated_events(
        self,
        doc_types: tuple[str, ...],
        date_name: str,
        since: datetime | None,
        until: datetime | None,
    ) -> list[reports.DatedEvent]:
        """Events of these types accepted in [since, until), with one key date and sending times."""
        with self._read() as conn:
            return reports.dated_events(
                conn, doc_types=doc_types, date_name=date_name, since=since, until=until
            )

    def rejections(self, limit: int = 100) -> list[Rejection]:
        """The latest rejected inputs, newest first, opened for staff."""
        queries.check_page(limit)
        stmt = sa.select(rejections).order_by(rejections.c.id.desc()).limit(limit)
        with self._read() as conn:
            rows = conn.execute(stmt).mappings().all()
        opened = optional(lambda raw: self._sealer.open(raw, label=_REJECTION_LABEL))
        return [from_row(Rejection, row, raw=opened, errors=_field_errors) for row in rows]

    def stuck(self, older_than_s: float, *, limit: int = 1000) -> list[Entry]:
        """Latest entry of each event left in a non-final state for over `older_than_s`."""
        before = self._now() - timedelta(seconds=older_than_s)
        with self._read() as conn:
            return queries.stuck(conn, before=before, limit=limit)

    def verify(self) -> VerifyResult:
        """Recomputes the whole chain within one snapshot and compares its end with the head."""
        with self._snapshot() as conn:
            return self._verify_in(conn)

    @contextlib.contextmanager
    def _snapshot(self) -> Iterator[Connection]:
        """One read transaction that sees a single moment (PostgreSQL: REPEATABLE READ)."""
        with self._read() as conn:
            if conn.dialect.name == "postgresql":
                conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @staticmethod
    def _verify_in(conn: Connection) -> VerifyResult:
        head = conn.execute(sa.select(chain_head.c.seq, chain_head.c.row_hash)).one()
        rows = conn.execute(
            sa.select(entries).order_by(entries.c.seq).execution_options(yield_per=1000)
        ).mappings()
        result = verify_rows(rows, head.seq, head.row_hash)
        stones_head = conn.execute(sa.select(tombstone_head.c.seq, tombstone_head.c.row_hash)).one()
        stones = conn.execute(
            sa.select(tombstones).order_by(tombstones.c.seq).execution_options(yield_per=1000)
        ).mappings()
        graves = verify_rows(stones, stones_head.seq, stones_head.row_hash, hasher=tombstone_hash)
        return _combine(result, graves, facts.check_events(conn))


def _event_label(event_id: str) -> str:
    return f"event:{event_id}"


def _event_exists(conn: Connection, event_id: str) -> bool:
    found = conn.execute(sa.select(events.c.event_id).where(events.c.event_id == event_id))
    return found.first() is not None


def _combine(chain: VerifyResult, graves: VerifyResult, bound: facts.EventsCheck) -> VerifyResult:
    """The entries' verdict, then the tombstones' chain, then the `events` rows' agreement with
    the chain: any of them broken means not ok, and the first one broken is named."""
    result = dataclasses.replace(
        chain, tombstones_checked=graves.checked, events_checked=bound.checked
    )
    if result.ok and not graves.ok:
        return dataclasses.replace(
            result,
            ok=False,
            reason=f"tombstone {graves.first_broken_seq}: {graves.reason}",
            first_broken_tombstone=graves.first_broken_seq,
        )
    if result.ok and bound.first_broken_event is not None:
        return dataclasses.replace(
            result, ok=False, reason=bound.reason, first_broken_event=bound.first_broken_event
        )
    return result


def _insert_dates(conn: Connection, event_id: str, found: Mapping[str, date]) -> None:
    if found:
        conn.execute(
            sa.insert(event_dates),
            [{"event_id": event_id, "name": k, "value": v} for k, v in sorted(found.items())],
        )


def _event_info(row: Mapping[Any, Any]) -> EventInfo:
    return from_row(EventInfo, row, language=Language)


def _field_errors(stored: str) -> tuple[FieldError, ...]:
    return tuple(FieldError(e["field"], e["message"]) for e in json.loads(stored))
