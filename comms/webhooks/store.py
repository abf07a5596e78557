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
from comms.ledger.privacy import Sealer
from comms.ledger.queries import check_page, entry_from_row, producer_of, rows_of_producer
from comms.ledger.schema import (
    chain_head,
    entries,
    webhook_cursor,
    webhook_endpoints,
    webhook_messages,
)
from comms.models import PRODUCER_SOURCE_PREFIX, producer_source
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
    claim_token: str | None = None  # set while this dispatcher holds it


class UnknownChangeType(ValueError):
    """A subscription names a change type that does not exist."""


class TooManyEndpoints(ValueError):
    """A producer already has as many active endpoints as `COMMS_WEBHOOK_ENDPOINTS_PER_PRODUCER`."""


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

    def register(
        self, producer: str, url: str, types: Sequence[str], *, most: int = 10
    ) -> tuple[Endpoint, str]:
        """A new endpoint and its signing secret, which is shown this once and stored sealed."""
        unknown = sorted(set(types) - set(CHANGE_TYPES))
        if unknown or not types:
            raise UnknownChangeType(f"change types must be among {', '.join(CHANGE_TYPES)}")
        secret = "whsec_" + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()
        endpoint_id = "ep_" + secrets.token_hex(12)
        now = self._now()
        wanted = tuple(t for t in CHANGE_TYPES if t in types)
        with self._writer.begin() as conn:
            active = conn.execute(
                sa.select(sa.func.count())
                .select_from(webhook_endpoints)
                .where(webhook_endpoints.c.producer == producer)
                .where(webhook_endpoints.c.disabled_at.is_(None))
            ).scalar_one()
            if active >= most:
                raise TooManyEndpoints(f"at most {most} active webhooks per producer")
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
        """This producer's changes after `after`, in chain order; the last `seq` is the cursor.

        Rows are appended under the chain head's lock, so no row with a lower `seq` can commit
        after one with a higher `seq` was read: a cursor never skips a change.
        """
        check_page(limit)
        if after < 0:
            raise ValueError("the cursor must not be negative")
        stmt = (
            sa.select(entries)
            .where(entries.c.seq > after)
            .where(entries.c.status.in_([s.value for s in REPORTED_STATUSES]))
            .where(rows_of_producer(producer_source(producer)))
            .order_by(entries.c.seq)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = [entry_from_row(r) for r in conn.execute(stmt).mappings()]
            histories = _histories(conn, rows)
        return [c for c in (self._change(e, histories[e.event_id]) for e in rows) if c]

    def _change(self, entry: Entry, history: Sequence[Entry]) -> Change | None:
        """The change a row reports, with the notification date it gives its communication."""
        change = change_of(entry)
        if change is None or change.type not in NOTIFYING_TYPES or entry.communication_id is None:
            return change
        so_far = [
            e
            for e in history
            if e.communication_id == entry.communication_id and e.seq <= entry.seq
        ]
        return change_of(entry, self._notification.deemed(so_far))

    # --- fan-out --------------------------------------------------------------------------------

    def fan_out(self, limit: int = 500) -> int:
        """New ledger rows → one outbox message per endpoint that wants them; returns how many.

        One short transaction reads the rows and moves the cursor, so two dispatchers never both
        fan out a row (PostgreSQL: the cursor row is locked; SQLite: the write lock).
        """
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
            by_producer: dict[str, list[Endpoint]] = {}
            for row in conn.execute(
                sa.select(webhook_endpoints).where(webhook_endpoints.c.disabled_at.is_(None))
            ).mappings():
                endpoint = _endpoint(row)
                by_producer.setdefault(endpoint.producer, []).append(endpoint)
            messages: list[dict[str, Any]] = []
            if by_producer:
                histories = _histories(conn, rows)
                now = self._now()
                for entry in rows:
                    history = histories[entry.event_id]
                    owner = producer_of(entry, history) or ""
                    wanted = by_producer.get(owner.removeprefix(PRODUCER_SOURCE_PREFIX), [])
                    messages += self._messages_for(entry, history, wanted, now)
            if messages:
                conn.execute(sa.insert(webhook_messages), messages)
            conn.execute(
                sa.update(webhook_cursor).where(webhook_cursor.c.id == 1).values(seq=rows[-1].seq)
            )
        return len(messages)

    def _messages_for(
        self, entry: Entry, history: Sequence[Entry], endpoints: list[Endpoint], now: datetime
    ) -> list[dict[str, Any]]:
        kind = change_of(entry)
        targets = [
            ep
            for ep in endpoints
            if kind and kind.type.value in ep.types and entry.seq > ep.from_seq
        ]
        if not targets:
            return []
        change = self._change(entry, history)
        assert change is not None
        body = json.dumps(
            {
                "type": change.event_type,
                "timestamp": change.at.isoformat(),
                "data": change.as_data(),
            },
            separators=(",", ":"),
            sort_keys=True,
        )
        return [
            {
                "id": _message_id(ep.id, entry.seq),
                "endpoint_id": ep.id,
                "seq": entry.seq,
                "event_id": entry.event_id,
                "type": change.type.value,
                "payload": body,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            for ep in targets
        ]

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
        """Up to `limit` due messages of one endpoint, the oldest undelivered one per event only.

        For one event the receiver gets its states in order: a later change waits while an
        earlier one is pending, and while it is dead, until an operator replays it. Each claim
        carries a token, so a dispatcher whose lease ran out cannot overwrite what another did.
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
                .where(earlier.c.state.in_([PENDING, DEAD]))
            )
            .order_by(webhook_messages.c.seq)
            .limit(limit)
        )
        claimed: list[OutboxMessage] = []
        until = now + timedelta(seconds=lease_s)
        token = secrets.token_hex(16)
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
                    .values(claimed_until=until, claim_token=token)
                )
                if taken.rowcount == 1:
                    claimed.append(_message({**row, "claim_token": token}))
        return claimed

    def succeeded(self, message: OutboxMessage) -> None:
        now = self._now()
        with self._writer.begin() as conn:
            conn.execute(
                sa.update(webhook_messages)
                .where(webhook_messages.c.id == message.id)
                .where(webhook_messages.c.claim_token == message.claim_token)
                .values(
                    state=DELIVERED,
                    attempts=webhook_messages.c.attempts + 1,
                    delivered_at=now,
                    claimed_until=None,
                    claim_token=None,
                    last_error=None,
                )
            )

    def failed(self, message: OutboxMessage, error: str, schedule_s: Sequence[float]) -> str:
        """One failed attempt: the next one after the schedule's delay, or dead when it is spent.

        A claim that is no longer ours (the lease ran out, another dispatcher went on) changes
        nothing: returns the empty string.
        """
        now = self._now()
        with self._writer.begin() as conn:
            current = conn.execute(
                sa.select(webhook_messages.c.attempts)
                .where(webhook_messages.c.id == message.id)
                .where(webhook_messages.c.claim_token == message.claim_token)
                .where(webhook_messages.c.state == PENDING)
            ).scalar_one_or_none()
            if current is None:
                return ""
            attempts = int(current) + 1
            spent = attempts > len(schedule_s)
            delay = 0.0 if spent else schedule_s[attempts - 1]
            state = DEAD if spent else PENDING
            done = conn.execute(
                sa.update(webhook_messages)
                .where(webhook_messages.c.id == message.id)
                # still ours: another dispatcher may have claimed it since the read above
                .where(webhook_messages.c.claim_token == message.claim_token)
                .where(webhook_messages.c.state == PENDING)
                .values(
                    state=state,
                    attempts=attempts,
                    next_attempt_at=now + timedelta(seconds=delay),
                    claimed_until=None,
                    claim_token=None,
                    last_error=error[:200],
                )
            )
        return state if done.rowcount == 1 else ""

    def purge_delivered(self, older_than_s: float) -> int:
        """Removes delivered messages sent more than `older_than_s` ago (their bodies would
        otherwise outlive the ledger's own retention); returns how many."""
        before = self._now() - timedelta(seconds=older_than_s)
        with self._writer.begin() as conn:
            done = conn.execute(
                sa.delete(webhook_messages)
                .where(webhook_messages.c.state == DELIVERED)
                .where(webhook_messages.c.delivered_at < before)
            )
        return int(done.rowcount)

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

    def count(self, state: str | None = None) -> int:
        """Outbox rows, all or in one state (operators' dashboards, the bench)."""
        stmt = sa.select(sa.func.count()).select_from(webhook_messages)
        if state is not None:
            stmt = stmt.where(webhook_messages.c.state == state)
        with self._engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

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


def _histories(conn: Connection, rows: Sequence[Entry]) -> dict[str, list[Entry]]:
    """Every row of the events these rows belong to, in one query, by event id."""
    ids = sorted({e.event_id for e in rows})
    found: dict[str, list[Entry]] = {event_id: [] for event_id in ids}
    stmt = sa.select(entries).where(entries.c.event_id.in_(ids)).order_by(entries.c.seq)
    for row in conn.execute(stmt).mappings():
        entry = entry_from_row(row)
        found[entry.event_id].append(entry)
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
        claim_token=row["claim_token"],
    )
