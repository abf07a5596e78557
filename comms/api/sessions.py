"""Web sign-in sessions kept server-side: a random id in the cookie, idle and absolute expiry.

The cookie is never the access token (a token lives as long as its configuration; a session
ends at sign-out or expiry). The table holds the SHA-256 of each id, not the id, so a reader of
the database cannot sign in with it. The CSRF token of a session is derived from its id.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from comms.ledger.engine import WRITE_OPTION
from comms.ledger.schema import NAMING, SHA256_HEX, UTCDateTime

IDLE_S = 30 * 60  # a session left unused for 30 minutes ends (a desk left unlocked)
ABSOLUTE_S = 8 * 3600  # and any session after one working day, however busy
TOUCH_EVERY_S = 60  # last use is written at most once a minute (one write per page is waste)
ID_BYTES = 32  # 256 random bits

metadata = sa.MetaData(naming_convention=NAMING)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("id_sha256", sa.String(SHA256_HEX), primary_key=True),
    sa.Column("user_name", sa.String(100), nullable=False, index=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_seen_at", UTCDateTime, nullable=False),
)


def now() -> datetime:
    return datetime.now(UTC)


def _key(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_token(session_id: str) -> str:
    """The token every state-changing form of this session carries; useless without the session."""
    return hmac.new(session_id.encode(), b"csrf", hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Session:
    user_name: str
    csrf_token: str


class Sessions:
    """Start, resume and end sessions in the service's database (any API process may serve any)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})

    def start(self, user_name: str, *, replacing: str | None = None) -> str:
        """A new id (rotated at every sign-in); the session the browser held before ends."""
        session_id = secrets.token_urlsafe(ID_BYTES)
        at = now()
        with self._writer.begin() as conn:
            if replacing:
                conn.execute(
                    sa.delete(web_sessions).where(web_sessions.c.id_sha256 == _key(replacing))
                )
            conn.execute(
                sa.delete(web_sessions).where(
                    web_sessions.c.created_at < at - timedelta(seconds=ABSOLUTE_S)
                )
            )
            conn.execute(
                sa.insert(web_sessions).values(
                    id_sha256=_key(session_id),
                    user_name=user_name,
                    created_at=at,
                    last_seen_at=at,
                )
            )
        return session_id

    def resume(self, session_id: str) -> Session | None:
        """The session if it is live; its last use moves forward."""
        if not session_id or len(session_id) > 100:
            return None
        key = _key(session_id)
        at = now()
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(web_sessions).where(web_sessions.c.id_sha256 == key)
            ).first()
        if row is None:
            return None
        expired = at - row.created_at > timedelta(seconds=ABSOLUTE_S) or (
            at - row.last_seen_at > timedelta(seconds=IDLE_S)
        )
        if expired:
            self.end(session_id)
            return None
        if at - row.last_seen_at > timedelta(seconds=TOUCH_EVERY_S):
            with self._writer.begin() as conn:
                conn.execute(
                    sa.update(web_sessions)
                    .where(web_sessions.c.id_sha256 == key)
                    .values(last_seen_at=at)
                )
        return Session(row.user_name, csrf_token(session_id))

    def end(self, session_id: str) -> None:
        with self._writer.begin() as conn:
            conn.execute(
                sa.delete(web_sessions).where(web_sessions.c.id_sha256 == _key(session_id))
            )
