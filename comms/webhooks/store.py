"""Webhook endpoints, the outbox of signed messages, and the change feed, over the ledger's database.

Everything here reads the chain and writes only its own tables. Sending is at least once: a
message is claimed for a lease, and a dispatcher that dies lets the lease run out; receivers
deduplicate by the message id.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from comms.ledger import Entry
from comms.ledger.engine import WRITE_OPTION
from comms.ledger.filters import evidence_value_hash
from comms.ledger.privacy import Sealer
from comms.ledger.queries import check_page, entry_from_row
from comms.ledger.schema import (
    chain_head,
    entries,
    entry_evidence,
    webhook_cursor,
    webhook_endpoints,
    webhook_messages,
)
from comms.models import PRODUCER_SOURCE_PREFIX, Status, producer_source
from comms.notification import NotificationPolicy
from comms.webhooks.changes import (
    CHANGE_TYPES,
    NOTIFYING_TYPES,
    REPORTED_STATUSES,
    Change,
    change_of,
)

_SECRET_LABEL = "webhook-secret"  # noqa: S105 - AEAD label of a sealed endpoint secret
_SECRET_BYTES = 32
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Endpoint:
    """A receiver one producer registered, and the change types it wants."""

    id: str
    producer: str
    url: str
    types: tuple[str, ...]
    from_seq: int  # the chain's head when it registered: it hears of what comes after
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True)
class OutboxMessage:
    """One change for one endpoint, with its delivery state."""

    id: str
    endpoint_id: str
    seq: int
    event_id: str
    type: str
    payload: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class UnknownChangeType(ValueError):
    """A subscription names a change type that does not exist."""


class WebhookStore:
    """Endpoints, fan-out, claims and the change feed; one per process, thread-safe."""

    def __init__(
        self,
        engine: Engine,
        sealer: Sealer,
        notification: NotificationPolicy,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._sealer = sealer
        self._notification = notification
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock().astimezone(UTC)

    # --- endpoints ------------------------------------------------------------------------------

    def register(self, producer: str, url: str, types: Sequence[str]) -> tuple[Endpoint, str]:
        """A new endpoint and its signing secret, which is shown this once and stored sealed."""
        unknown = sorted(set(types) - set(CHANGE_TYPES))
        if unknown or not types:
            raise UnknownChangeType(f"change types must be among {', '.join(CHANGE_TYPES)}")
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()
        endpoint_id = "ep_" + secrets.token_hex(12)
        now = self._now()
        wanted = tuple(t for t in CHANGE_TYPES if t in types)
        with self._writer.begin() as conn:
            head = conn.execute(sa.select(chain_head.c.seq)).scalar_one()
            conn.execute(
                sa.insert(webhook_endpoints).values(
                    id=endpoint_id,
                    producer=producer,
                    url=url,
                    secret=self._sealer.seal(secret, label=_SECRET_LABEL),
                    types=json.dumps(list(wanted)),
                    from_seq=int(head),
                    created_at=now,
                )
            )
        return Endpoint(endpoint_id, producer, url, wanted, int(head), now, None), secret

    def endpoints(self, producer: str | None = None) -> list[Endpoint]:
        stmt = sa.select(webhook_endpoints).order_by(webhook_endpoints.c.created_at)
        if producer is not None:
            stmt = stmt.where(webhook_endpoints.c.producer == producer)
        with self._engine.connect() as conn:
            return [_endpoint(row) for row in conn.execute(stmt).mappings()]

    def disable(self, producer: str, endpoint_id: str) -> bool:
        """Stops new messages to an endpoint of this producer; False if it has none by that id."""
        with self._writer.begin() as conn:
            done = conn.execute(
                sa.update(webhook_endpoints)
                .where(webhook_endpoints.c.id == endpoint_id)
                .where(webhook_endpoints.c.producer == producer)
                .where(webhook_endpoints.c.disabled_at.is_(None))
                .values(disabled_at=self._now())
            )
        return done.rowcount == 1

    def secret_of(self, endpoint_id: str) -> str:
        with self._engine.connect() as conn:
            sealed = conn.execute(
                sa.select(webhook_endpoints.c.secret).where(webhook_endpoints.c.id == endpoint_id)
            ).scalar_one()
        return self._sealer.open(sealed, label=_SECRET_LABEL)

    # --- the change feed ------------------------------------------------------------------------

    def changes(self, producer: str, *, after: int, limit: int) -> list[Change]:
        """This producer's changes after `after`, in chain order; the last `seq` is the cursor."""
        check_page(limit)
        if after < 0:
            raise ValueError("the cursor must not be negative")
        stmt = (
            sa.select(entries)
            .where(entries.c.seq > after)
            .where(entries.c.status.in_([s.value for s in REPORTED_STATUSES]))
            .where(_of_producer(producer))
            .order_by(entries.c.seq)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = [entry_from_row(r) for r in conn.execute(stmt).mappings()]
            return [c for c in (self._change(conn, e) for e in rows) if c is not None]

    def _change(self, conn: Connection, entry: Entry) -> Change | None:
        change = change_of(entry)
        if change is None or change.type not in NOTIFYING_TYPES or entry.communication_id is None:
            return change
        so_far = conn.execute(
            sa.select(entries)
            .where(entries.c.communication_id == entry.communication_id)
            .where(entries.c.seq <= entry.seq)
            .order_by(entries.c.seq)
        ).mappings()
        return change_of(entry, self._notification.deemed(entry_from_row(r) for r in so_far))

    # --- fan-out --------------------------------------------------------------------------------

    def fan_out(self, limit: int = 500) -> int:
        """New ledger rows → one outbox message per endpoint that wants them; returns how many.

        One transaction reads the rows and moves the cursor, so two dispatchers never both
        fan out a row (PostgreSQL: the cursor row is locked; SQLite: the write lock).
        """
        made = 0
        with self._writer.begin() as conn:
            cursor = conn.execute(
                sa.select(webhook_cursor.c.seq).where(webhook_cursor.c.id == 1).with_for_update()
            ).scalar_one()
            rows = [
                entry_from_row(r)
                for r in conn.execute(
                    sa.select(entries)
                    .where(entries.c.seq > cursor)
                    .order_by(entries.c.seq)
                    .limit(limit)
                ).mappings()
            ]
            if not rows:
                return 0
            active = [
                _endpoint(r)
                for r in conn.execute(
                    sa.select(webhook_endpoints).where(webhook_endpoints.c.disabled_at.is_(None))
                ).mappings()
            ]
            if active:
                producers = _producers(conn, rows)
                now = self._now()
                for entry in rows:
                    made += self._fan_one(conn, entry, producers.get(entry.event_id), active, now)
            conn.execute(
                sa.update(webhook_cursor).where(webhook_cursor.c.id == 1).values(seq=rows[-1].seq)
            )
        return made

    def _fan_one(
        self,
        conn: Connection,
        entry: Entry,
        producer: str | None,
        active: list[Endpoint],
        now: datetime,
    ) -> int:
        targets = [
            ep
            for ep in active
            if ep.producer == producer
            and entry.seq > ep.from_seq
            and (change_type := change_of(entry)) is not None
            and change_type.type in ep.types
        ]
        if not targets:
            return 0
        change = self._change(conn, entry)
        assert change is not None
        for ep in targets:
            message_id = _message_id(ep.id, entry.seq)
            body = {
                "type": change.event_type,
                "timestamp": change.at.isoformat(),
                "data": change.as_data(),
            }
            conn.execute(
                sa.insert(webhook_messages).values(
                    id=message_id,
                    endpoint_id=ep.id,
                    seq=entry.seq,
                    event_id=entry.event_id,
                    type=change.type,
                    payload=json.dumps(body, separators=(",", ":"), sort_keys=True),
                    state=PENDING,
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
        return len(targets)

    # --- sending --------------------------------------------------------------------------------

    def due_endpoints(self) -> list[Endpoint]:
        """Endpoints with at least one message that may be sent now."""
        now = self._now()
        due = (
            sa.select(webhook_messages.c.endpoint_id)
            .where(webhook_messages.c.state == PENDING)
            .where(webhook_messages.c.next_attempt_at <= now)
            .distinct()
        )
        stmt = sa.select(webhook_endpoints).where(webhook_endpoints.c.id.in_(due))
        with self._engine.connect() as conn:
            return [_endpoint(row) for row in conn.execute(stmt).mappings()]

    def claim(self, endpoint_id: str, *, limit: int, lease_s: float) -> list[OutboxMessage]:
        """Up to `limit` due messages of one endpoint, the oldest pending one per event only.

        For one event the receiver gets its states in order: a later change waits while an
        earlier one is pending (a dead one no longer holds it back).
        """
        now = self._now()
        earlier = webhook_messages.alias("earlier")
        stmt = (
            sa.select(webhook_messages)
            .where(webhook_messages.c.endpoint_id == endpoint_id)
            .where(webhook_messages.c.state == PENDING)
            .where(webhook_messages.c.next_attempt_at <= now)
            .where(
                sa.or_(
                    webhook_messages.c.claimed_until.is_(None),
                    webhook_messages.c.claimed_until < now,
                )
            )
            .where(
                ~sa.exists()
                .where(earlier.c.endpoint_id == webhook_messages.c.endpoint_id)
                .where(earlier.c.event_id == webhook_messages.c.event_id)
                .where(earlier.c.seq < webhook_messages.c.seq)
                .where(earlier.c.state == PENDING)
            )
            .order_by(webhook_messages.c.seq)
            .limit(limit)
        )
        claimed: list[OutboxMessage] = []
        until = now + timedelta(seconds=lease_s)
        with self._writer.begin() as conn:
            for row in conn.execute(stmt).mappings().all():
                taken = conn.execute(
                    sa.update(webhook_messages)
                    .where(webhook_messages.c.id == row["id"])
                    .where(webhook_messages.c.state == PENDING)
                    .where(
                        sa.or_(
                            webhook_messages.c.claimed_until.is_(None),
                            webhook_messages.c.claimed_until < now,
                        )
                    )
                    .values(claimed_until=until)
                )
                if taken.rowcount == 1:
                    claimed.append(_message(row))
        return claimed

    def succeeded(self, message_id: str) -> None:
        now = self._now()
        with self._writer.begin() as conn:
            conn.execute(
                sa.update(webhook_messages)
                .where(webhook_messages.c.id == message_id)
                .values(
                    state=DELIVERED,
                    attempts=webhook_messages.c.attempts + 1,
                    delivered_at=now,
                    claimed_until=None,
                    last_error=None,
                )
            )

    def failed(self, message_id: str, error: str, schedule_s: Sequence[float]) -> str:
        """One failed attempt: the next one after the schedule's delay, or dead when it is spent."""
        now = self._now()
        with self._writer.begin() as conn:
            attempts = (
                int(
                    conn.execute(
                        sa.select(webhook_messages.c.attempts).where(
                            webhook_messages.c.id == message_id
                        )
                    ).scalar_one()
                )
                + 1
            )
            spent = attempts > len(schedule_s)
            delay = 0.0 if spent else schedule_s[attempts - 1]
            state = DEAD if spent else PENDING
            conn.execute(
                sa.update(webhook_messages)
                .where(webhook_messages.c.id == message_id)
                .values(
                    state=state,
                    attempts=attempts,
                    next_attempt_at=now + timedelta(seconds=delay),
                    claimed_until=None,
                    last_error=error[:200],
                )
            )
        return state

    # --- dead letters ---------------------------------------------------------------------------

    def messages(
        self,
        *,
        state: str | None = None,
        endpoint_id: str | None = None,
        producer: str | None = None,
        limit: int = 100,
    ) -> list[OutboxMessage]:
        check_page(limit)
        stmt = sa.select(webhook_messages).order_by(webhook_messages.c.seq).limit(limit)
        if state is not None:
            stmt = stmt.where(webhook_messages.c.state == state)
        if endpoint_id is not None:
            stmt = stmt.where(webhook_messages.c.endpoint_id == endpoint_id)
        if producer is not None:
            owned = sa.select(webhook_endpoints.c.id).where(
                webhook_endpoints.c.producer == producer
            )
            stmt = stmt.where(webhook_messages.c.endpoint_id.in_(owned))
        with self._engine.connect() as conn:
            return [_message(row) for row in conn.execute(stmt).mappings()]

    def replay(self, *, endpoint_id: str | None = None, message_ids: Sequence[str] = ()) -> int:
        """Dead letters back to pending with a fresh schedule; returns how many."""
        stmt = sa.update(webhook_messages).where(webhook_messages.c.state == DEAD)
        if endpoint_id is not None:
            stmt = stmt.where(webhook_messages.c.endpoint_id == endpoint_id)
        if message_ids:
            stmt = stmt.where(webhook_messages.c.id.in_(list(message_ids)))
        with self._writer.begin() as conn:
            done = conn.execute(
                stmt.values(
                    state=PENDING, attempts=0, next_attempt_at=self._now(), claimed_until=None
                )
            )
        return int(done.rowcount)


def _of_producer(producer: str) -> sa.ColumnElement[bool]:
    """Rows of events this producer sent: the intake chains `source` (`http:<name>`) with the
    acceptance or rejection, so the answer rests on the chain, not on an editable column."""
    sent = (
        sa.select(entries.c.event_id)
        .join(entry_evidence, entry_evidence.c.seq == entries.c.seq)
        .where(entry_evidence.c.key == "source")
        .where(entry_evidence.c.value_sha256 == evidence_value_hash(producer_source(producer)))
        .where(entries.c.status.in_([Status.ACCEPTED.value, Status.REJECTED.value]))
    )
    return entries.c.event_id.in_(sent)


def _producers(conn: Connection, rows: Sequence[Entry]) -> dict[str, str]:
    """The producer of each row's event, from the `source` of its acceptance or rejection."""
    ids = sorted({e.event_id for e in rows})
    found: dict[str, str] = {}
    opening = (
        sa.select(entries.c.event_id, entries.c.evidence)
        .where(entries.c.event_id.in_(ids))
        .where(entries.c.status.in_([Status.ACCEPTED.value, Status.REJECTED.value]))
    )
    for row in conn.execute(opening):
        source = str(json.loads(row.evidence).get("source", ""))
        if source.startswith(PRODUCER_SOURCE_PREFIX):
            found.setdefault(str(row.event_id), source.removeprefix(PRODUCER_SOURCE_PREFIX))
    return found


def _message_id(endpoint_id: str, seq: int) -> str:
    """Stable per endpoint and row, so a second fan-out of the same row cannot make a twin."""
    digest = hashlib.sha256(f"{endpoint_id}:{seq}".encode()).hexdigest()[:32]
    return f"msg_{digest}"


def _endpoint(row: Any) -> Endpoint:
    return Endpoint(
        id=row["id"],
        producer=row["producer"],
        url=row["url"],
        types=tuple(json.loads(row["types"])),
        from_seq=int(row["from_seq"]),
        created_at=row["created_at"],
        disabled_at=row["disabled_at"],
    )


def _message(row: Any) -> OutboxMessage:
    return OutboxMessage(
        id=row["id"],
        endpoint_id=row["endpoint_id"],
        seq=int(row["seq"]),
        event_id=row["event_id"],
        type=row["type"],
        payload=row["payload"],
        state=row["state"],
        attempts=int(row["attempts"]),
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        created_at=row["created_at"],
        delivered_at=row["delivered_at"],
    )
