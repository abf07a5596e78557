"""Shared test data and helpers; a plain module, so worker processes started by tests can import it."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from comms.ledger import AcceptResult, Ledger
from comms.ledger.chain import row_hash
from comms.ledger.schema import chain_head, entries
from comms.models import ChannelName, Language, Status

SECRET = "test-hmac-secret"
PERSON = "85073003328"  # valid national numbers (mod 97), domain §1
OTHER_PERSON = "01010122296"  # born in 2001: the check uses "2" + the first nine digits
COMPANY = "0406798006"


class Clock:
    """A settable UTC clock, so `stuck()` and time filters are tested without sleeping."""

    def __init__(self) -> None:
        self.now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def snapshot_of(event_id: str, subject_id: str = PERSON, **extra: object) -> str:
    """A stand-in for the canonical event JSON: it carries the number in clear, as the real one."""
    return json.dumps(
        {"event_id": event_id, "recipient": {"national_number": subject_id, "name": "Jan Peeters"}}
        | extra,
        sort_keys=True,
    )


def accept(
    ledger: Ledger,
    event_id: str,
    *,
    subject_id: str = PERSON,
    dossier: str = "D-2026/001",
    doc_type: str = "decision",
    language: Language = Language.NL,
    source: str | None = None,
    **extra: object,
) -> AcceptResult:
    snapshot = snapshot_of(event_id, subject_id, **extra)
    return ledger.accept_event(
        event_id=event_id,
        doc_type=doc_type,
        content_sha256=hashlib.sha256(snapshot.encode()).hexdigest(),
        snapshot_json=snapshot,
        subject_id=subject_id,
        dossier=dossier,
        language=language,
        source=source,
    )


def drop_append_only_guard(engine: sa.Engine) -> None:
    """What an attacker with DDL rights does first; the chain must still catch what follows."""
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("DROP TRIGGER entries_append_only ON entries")
        else:
            conn.exec_driver_sql("DROP TRIGGER entries_no_update")
            conn.exec_driver_sql("DROP TRIGGER entries_no_delete")


def rewrite_history_from(engine: sa.Engine, seq: int) -> None:
    """The forger's full job: change a row, then rehash it, every later row and the head.

    The chain then verifies on its own; only a checkpoint kept elsewhere shows the change.
    """
    drop_append_only_guard(engine)
    with engine.begin() as conn:
        rows = [
            dict(r)
            for r in conn.execute(
                sa.select(entries).where(entries.c.seq >= seq).order_by(entries.c.seq)
            ).mappings()
        ]
        rows[0]["reason"] = "recipient asked for paper"
        prev = rows[0]["prev_hash"]
        for row in rows:
            row["prev_hash"] = prev
            row["row_hash"] = prev = row_hash(row)
            conn.execute(
                sa.update(entries)
                .where(entries.c.seq == row["seq"])
                .values(reason=row["reason"], prev_hash=row["prev_hash"], row_hash=row["row_hash"])
            )
        conn.execute(sa.update(chain_head).values(row_hash=prev))


def routed(
    ledger: Ledger, event_id: str, communication_id: str, channel: ChannelName | None = None
) -> None:
    """The routing row every communication starts with (models.TRANSITIONS)."""
    ledger.record(
        event_id=event_id,
        status=Status.ROUTED,
        communication_id=communication_id,
        channel=channel,
        reason="first choice",
    )
