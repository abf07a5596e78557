"""What the eBox simulator remembers: tokens, publications, read flags, failures to inject."""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Literal

from channels.ebox_simulator.rules import Part

PUBLISH_SCOPE = "scope:document:management:consult:ws-eboxrestentreprise:publicationsender"
PREFERENCES_SCOPE = "scope:documentmanagement:ebox:enterprise:federation-rest:preference"


@dataclass(frozen=True)
class SimulatorConfig:
    """Fixed at creation: who may call, with which key, and how the fake registry behaves."""

    client_id: str
    public_key_pem: bytes
    sender_enterprise_number: str | None = None  # None: any valid sender is accepted
    token_lifetime_s: float = 300.0
    token_audience: str | None = None  # None: the URL the token request came to
    validity_days: int = 365  # publication date + the message type's validity period
    scopes: frozenset[str] = frozenset({PUBLISH_SCOPE, PREFERENCES_SCOPE})
    api_version: Literal["v2", "v3"] = "v3"  # the publication wire format served


@dataclass
class Publication:
    """One published message, kept whole so a test can inspect exactly what was sent."""

    message_id: str
    client_id: str
    idempotency_key: str | None
    recipient: str  # SSIN or enterprise number
    message: dict[str, Any]  # the parsed messageToPublish
    parts: dict[str, Part]
    published_at: str
    expiration_date: str  # a date-time, as the registry answers it
    code: str | None = None  # NO_DIGITAL_USER
    read: bool = False

    @property
    def recipient_type(self) -> str:
        """rest-2.1 EboxId.eboxType of the recipient."""
        return "citizen" if len(self.recipient) == 11 else "enterprise"

    def describe(self) -> dict[str, Any]:
        """JSON-ready, as `GET /_sim/messages` shows it: files in base64 with their SHA-256."""
        return {
            "messageId": self.message_id,
            "idempotencyKey": self.idempotency_key,
            "recipient": self.recipient,
            "publishedAt": self.published_at,
            "expirationDate": self.expiration_date,
            "code": self.code,
            "read": self.read,
            "messageToPublish": self.message,
            "parts": {
                name: {
                    "filename": part.filename,
                    "contentType": part.content_type,
                    "sha256": hashlib.sha256(part.content).hexdigest(),
                    "contentBase64": base64.b64encode(part.content).decode(),
                }
                for name, part in self.parts.items()
            },
        }


@dataclass
class _Token:
    client_id: str
    scopes: frozenset[str]
    expires_at: float  # time.monotonic()


@dataclass
class FailurePlan:
    """Answer `status` (after `delay_s`) to the next `count` API calls; status None: delay only."""

    status: int | None = None
    count: int = 0
    delay_s: float = 0.0
    retry_after_s: int | None = None


@dataclass
class SimulatorState:
    """Shared by the request handlers; a lock because tests may read it from another thread."""

    no_digital_users: set[str] = field(default_factory=set)
    preferences: dict[str, dict[str, Any]] = field(default_factory=dict)
    publications: dict[str, Publication] = field(default_factory=dict)
    idempotency: dict[tuple[str, str], str] = field(default_factory=dict)
    tokens: dict[str, _Token] = field(default_factory=dict)
    used_jti: set[str] = field(default_factory=set)
    failure: FailurePlan = field(default_factory=FailurePlan)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def issue(self, token: str, client_id: str, scopes: frozenset[str], lifetime_s: float) -> None:
        with self.lock:
            self.tokens[token] = _Token(client_id, scopes, time.monotonic() + lifetime_s)

    def bearer(self, token: str) -> tuple[str, frozenset[str]] | None:
        """(client id, scopes) of a live token, or None when unknown or expired."""
        with self.lock:
            found = self.tokens.get(token)
            if found is None or time.monotonic() >= found.expires_at:
                return None
            return found.client_id, found.scopes

    def expire_tokens(self) -> None:
        with self.lock:
            self.tokens.clear()

    def take_failure(self) -> FailurePlan | None:
        """The failure to apply to this call, if one is planned; counts it down."""
        with self.lock:
            plan = self.failure
            if plan.count <= 0:
                return None
            plan.count -= 1
            return FailurePlan(plan.status, 1, plan.delay_s, plan.retry_after_s)

    def reset(self) -> None:
        """Forget publications, tokens and planned failures; keep the configuration."""
        with self.lock:
            self.publications.clear()
            self.idempotency.clear()
            self.tokens.clear()
            self.used_jti.clear()
            self.failure = FailurePlan()
