"""Settings from `COMMS_*` environment variables, validated once, with safe embedded defaults."""

from __future__ import annotations

import base64
import binascii
import math
import re
import string
import zlib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from comms.doctypes import DOC_TYPES

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent  # the checkout, when running from one
# Templates and samples: a wheel carries them in comms/_assets (pyproject.toml); a checkout keeps
# them at its root, where staff edit them.
ASSETS_DIR = PACKAGE_DIR / "_assets" if (PACKAGE_DIR / "_assets").is_dir() else REPO_ROOT
DEV_HMAC_SECRET = "dev-only-not-secret"  # noqa: S105 - refused when COMMS_ENVIRONMENT=production
SEAL_KEY_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")  # no dot: the id sits inside `v2.<id>.`
SEAL_KEY_BYTES = 32  # AES-256
SECRET_MIN_BITS = 256  # 32 random bytes: what an HMAC-SHA256 key can use, and a brute force can't
MAKE_SECRET = 'python3 -c "import secrets; print(secrets.token_urlsafe(32))"'  # noqa: S105
# Alphabets a generated secret is written in, smallest first: a secret counts the bits per
# character of the smallest one that holds all its characters.
_ALPHABETS = (
    frozenset(string.hexdigits.lower()),
    frozenset(string.hexdigits.upper()),
    frozenset(string.ascii_letters + string.digits + "+/-_"),  # base64, base64url
    frozenset(string.printable.strip()),
)
_ZLIB_OVERHEAD_BYTES = 11  # header, checksum and block marks of a tiny zlib stream


def secret_strength_bits(secret: str) -> float:
    """An upper estimate of a secret's entropy, for refusing weak ones (not for proving strength).

    The lesser of length × bits per character of its alphabet (hex, base64, printable) and the
    bits left once zlib has squeezed out repetition: `x`, sixty-four `a`s, a repeated phrase or
    16 random bytes in hex all stay under 256 bits; 32 random bytes in hex or base64 reach it. A
    chosen phrase can still pass: make secrets with a generator, as the error message says.
    """
    text = secret.rstrip("=")
    alphabet = next((a for a in _ALPHABETS if set(text) <= a), None)
    per_char = math.log2(len(alphabet)) if alphabet else 8.0
    squeezed = len(zlib.compress(secret.encode("utf-8"), 9)) - _ZLIB_OVERHEAD_BYTES
    return min(len(text) * per_char, 8.0 * max(squeezed, 0))


def parse_seal_keys(text: str) -> list[tuple[str, bytes]]:
    """`id:base64key,id:base64key`, newest first; errors name the position, never a key."""
    ring: list[tuple[str, bytes]] = []
    for n, item in enumerate((part.strip() for part in text.split(",")), start=1):
        key_id, colon, encoded = item.partition(":")
        if not colon or not SEAL_KEY_ID.fullmatch(key_id) or key_id == "derived":
            raise ValueError(
                f"COMMS_SEAL_KEYS item {n}: expected `id:base64key`, the id in lower-case letters,"
                " digits and hyphens (at most 32, not `derived`)"
            )
        try:
            key = base64.b64decode(encoded.strip(), validate=True)
        except binascii.Error:
            key = b""
        if len(key) != SEAL_KEY_BYTES:
            raise ValueError(
                f"COMMS_SEAL_KEYS key {key_id!r}: expected {SEAL_KEY_BYTES} random bytes in base64"
                " (`comms ledger new-seal-key` makes one)"
            )
        if any(key_id == seen for seen, _ in ring):
            raise ValueError(f"COMMS_SEAL_KEYS names key {key_id!r} twice")
        ring.append((key_id, key))
    return ring


Role = Literal["producer", "compliance", "staff", "operator"]


class ApiUser(BaseModel):
    """One caller of the API: a name for the audit trail, roles, and the SHA-256 of its token."""

    name: str = Field(min_length=1, max_length=100)
    roles: list[Role] = Field(min_length=1)
    token_sha256: SecretStr  # hex digest of the bearer token: the token itself is never stored


class Settings(BaseSettings):
    """Everything an operator may set; built by `load_settings()`, never at import."""

    model_config = SettingsConfigDict(
        env_prefix="COMMS_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    templates_dir: Path = ASSETS_DIR / "templates"
    routing_policy: Path = PACKAGE_DIR / "routing.toml"
    database_url: str = ""  # empty: a SQLite file in data_dir
    redis_url: str = "redis://127.0.0.1:6379/0"
    hmac_secret: SecretStr = SecretStr(DEV_HMAC_SECRET)
    # Keys that seal snapshots and rejected inputs, newest first (docs/ledger.md, "Seal keys").
    # Empty: a key derived from the HMAC secret, as before; refused in production.
    seal_keys: SecretStr = SecretStr("")

    # Letter layout (domain §8: window position depends on the print shop's envelope; DIN 5008-like default)
    address_window_left_mm: float = 20.0
    address_window_top_mm: float = 50.0
    address_window_width_mm: float = 90.0
    address_window_height_mm: float = 40.0
    # Blank band kept in the window above a registered letter's address for bpost's registered
    # (R) label the print shop prints or sticks there; its height is the print shop's (gap).
    registered_label_height_mm: float = Field(default=12.0, ge=0)

    # Email (aiosmtplib)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_implicit_tls: bool = False
    smtp_timeout_s: float = 30.0
    smtp_pool_size: int = Field(default=4, ge=1, le=64)  # = worker_jobs_bulk; docs/performance.md
    smtp_envelope_from: str | None = None  # the bounce address (Return-Path)
    smtp_validate_certs: bool = True
    email_from: str = "Sociaal verzekeringsfonds <noreply@fonds.example>"
    email_domain: str = "fonds.example"  # right-hand side of Message-IDs

    # eBox (domain/ebox.md); the defaults point at the loopback simulator
    # The Message Registry version the fund was onboarded on (docs/channels.md, "eBox versions");
    # unset URLs follow it (v2: …/messageRegistry/v2 and /REST/oauth/v3/token).
    ebox_api_version: Literal["v2", "v3"] = "v3"
    ebox_base_url: str = "http://127.0.0.1:8765/REST/ebox/enterprise/messageRegistry/v3"
    ebox_token_url: str = "http://127.0.0.1:8765/REST/oauth/v5/token"  # noqa: S105
    ebox_federation_url: str = "http://127.0.0.1:8765/REST/ebox/enterprise/federation/v1"
    ebox_key_id: str | None = None  # the JWT `kid` header, when the token service asks for it
    ebox_private_key_password: SecretStr | None = None
    ebox_client_id: str = "comms-dev"
    ebox_private_key_path: Path | None = None  # PEM; a throwaway key is generated in development
    ebox_sender_enterprise_number: str = "0406798006"
    ebox_message_type_id: str = "dev-message-type"
    ebox_sender_application_id: str = "dev-sender-application"
    ebox_timeout_s: float = 30.0

    # Post-print outbox
    post_outbox_dir: Path | None = None  # default: data_dir / "outbox" / "post"

    # Channels and tracking (issue 4): docs/channels.md
    bounce_listen_host: str = "127.0.0.1"  # `comms bounces serve`; the MX relays bounces to it
    bounce_listen_port: int = Field(default=8026, ge=0, le=65535)
    bounce_accept: list[str] = []  # bounce addresses or "@domain" the receiver takes; empty: any
    bounce_max_message_bytes: int = Field(default=10 * 1024 * 1024, ge=64 * 1024)
    ebox_poll_every_min: int = Field(default=15, ge=1, le=60)  # read-status poll (arq cron)
    ebox_poll_max_age_days: int = Field(default=60, ge=1, le=400)  # older publications: not polled
    ebox_preferences_ttl_s: float = Field(default=3600.0, ge=0)  # company preferences cache
    ebox_preferences_timeout_s: float = Field(default=5.0, gt=0)  # routing waits no longer
    post_duplex: bool = True  # print both sides: a blank back after a letter with odd pages
    post_batch_max_letters: int = Field(default=500, ge=1, le=100_000)  # cut on size at this
    post_batch_hours: list[int] = [15]  # cut whatever waits at these hours (worker's clock)
    # The print shop's envelopes: name → most sheets.
    post_envelopes: dict[str, int] = Field(default={"DL": 5, "C4": 100}, min_length=1)

    # Rendering performance (issue 7): docs/performance.md says why each value is what it is.
    render_processes: int = Field(default=0, ge=0, le=64)  # render processes; 0: one per core
    render_letters_per_process: int = Field(default=1000, ge=1)  # then replaced: memory stays flat
    render_timeout_s: float = Field(default=120.0, gt=0)  # one letter; then its process is replaced
    # The worker renders in those warm processes; false: in its own process, one letter at a time
    # (a very small installation, or a test that patches the composer in the worker).
    render_pool: bool = True

    # Template tools (issue 6)
    # None: "published" in production, else "working"
    templates_source: Literal["working", "published"] | None = None
    # approved versions rebuilt to render from; default data_dir / "template-versions"
    template_cache_dir: Path | None = None

    # Compliance and retention (issue 5): docs/compliance.md. Years from 1 January after the event;
    # the defaults come from each document type (comms/doctypes/); the values per type are a gap
    # (no confirmed source): the DPO sets them.
    retention_years: dict[str, int] = Field(
        default_factory=lambda: {n: t.retention_years for n, t in DOC_TYPES.items()}
    )
    retention_default_years: int = Field(default=10, ge=0, le=100)  # types not listed above
    retention_rejected_years: int = Field(default=1, ge=0, le=100)  # invalid inputs

    # HTTP API: COMMS_API_USERS='[{"name": "upstream-x", "roles": ["producer"], "token_sha256": "…"}]'
    api_users: list[ApiUser] = Field(default_factory=list)

    # Queue and worker (issue 3): docs/queue.md says why each value is what it is.
    # Document types on comms:urgent; every other type goes on comms:bulk (default: the types
    # marked urgent in comms/doctypes/).
    urgent_types: list[str] = Field(
        default_factory=lambda: [n for n, t in DOC_TYPES.items() if t.urgent]
    )
    worker_jobs_urgent: int = Field(default=2, ge=1, le=64)  # events a process runs at once
    worker_jobs_bulk: int = Field(default=4, ge=1, le=64)
    # arq's 0.5 s left a freed job slot idle for up to that long; 50 ms costs a short read per
    # poll while a slot is free (docs/performance.md, "arq").
    worker_poll_delay_s: float = Field(default=0.05, gt=0, le=5)
    # Job ids a poll reads. Running jobs stay at the head of their queue until they end, so this
    # must exceed the slots of every process on one queue together, or a worker sees only theirs.
    worker_queue_read_limit: int = Field(default=100, ge=10, le=10_000)
    worker_uvloop: bool = True  # uvloop under the workers: less CPU per job than asyncio's loop
    # Skip ids seen running (own jobs locally, others' by one MGET) before arq's claim walk;
    # false gives arq's own walk, for comparison (comms/service/claims.py).
    worker_sift_claims: bool = True
    # One event, start to end; arq re-runs a killed worker's job after this + 10 s.
    job_timeout_s: float = Field(default=300.0, gt=0)
    # arq drops a job not started by then; the sweeper re-enqueues it from the ledger.
    job_expires_s: float = Field(default=7 * 86400.0, gt=0)
    # arq results only de-duplicate enqueues; every answer comes from the ledger.
    job_keep_result_s: float = Field(default=300.0, ge=0)
    retry_base_s: float = Field(default=30.0, gt=0)  # first retry after a transient failure
    retry_max_delay_s: float = Field(default=1800.0, gt=0)  # backoff doubles up to this
    retry_budget_s: float = Field(default=86400.0, gt=0)  # then the channel counts as failed
    max_crashes: int = Field(default=3, ge=1, le=100)  # runs that killed their worker: quarantine
    sweep_every_s: int = Field(default=60, ge=1, le=3600)  # divides 60, or 60k dividing 3600
    stuck_after_s: float = Field(default=900.0, gt=0)  # unchanged this long with no job: re-enqueue
    sweep_batch: int = Field(default=500, ge=1, le=1000)  # ledger rows a sweep looks at
    shutdown_grace_s: float = Field(default=60.0, ge=0)  # SIGTERM: in-flight events may finish
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=0, ge=0, le=65535)  # 0: no endpoint in workers
    # When a communication is deemed notified (issue 18): docs/notification.md. Only the post rules
    # have a source in law (art. 53bis Judicial Code); the eBox and email rules are the fund's policy.
    notification_post_working_days: int = Field(default=3, ge=0, le=30)
    notification_registered_basis: Literal["presentation", "posting"] = "presentation"
    notification_registered_working_days: int = Field(
        default=3, ge=0, le=30
    )  # no presentation date
    notification_ebox_basis: Literal["read", "publication"] = "read"
    notification_ebox_days: int = Field(default=0, ge=0, le=60)  # with basis "publication"
    notification_email_days: int | None = Field(default=None, ge=0, le=60)  # None: never notifies
    notification_working_weekdays: list[int] = [0, 1, 2, 3, 4]  # Monday = 0; a gap (legal review)

    # Upstream webhooks (issue 18): docs/webhooks.md. Standard Webhooks' retry schedule: 27.5 h.
    webhook_retry_schedule_s: list[float] = [5, 300, 1800, 7200, 18000, 36000, 36000]
    webhook_timeout_s: float = Field(default=10.0, gt=0, le=60)  # one POST; a slow receiver waits
    webhook_poll_s: float = Field(default=1.0, gt=0, le=60)  # the dispatcher's idle sleep
    webhook_batch: int = Field(default=500, ge=1, le=10_000)  # ledger rows per fan-out round
    webhook_endpoints_at_once: int = Field(default=16, ge=1, le=256)  # receivers served in parallel
    # Events at once per receiver; endpoints of one producer served at once (a fair share).
    webhook_in_flight_per_endpoint: int = Field(default=4, ge=1, le=64)
    webhook_producer_endpoints_at_once: int = Field(default=4, ge=1, le=256)
    webhook_endpoints_per_producer: int = Field(default=10, ge=1, le=1000)  # registrations
    webhook_keep_delivered_days: int = Field(default=30, ge=1, le=3650)  # then the row goes
    # Loopback and private addresses as targets (SSRF): None = allowed except in production.
    webhook_allow_private_targets: bool | None = None

    @property
    def webhook_private_targets_allowed(self) -> bool:
        if self.webhook_allow_private_targets is not None:
            return self.webhook_allow_private_targets
        return self.environment != "production"

    log_format: Literal["json", "console"] = "json"
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    @model_validator(mode="after")
    def _queue_timings(self) -> Settings:
        if self.stuck_after_s <= self.job_timeout_s:
            raise ValueError("COMMS_STUCK_AFTER_S must exceed COMMS_JOB_TIMEOUT_S")
        every = self.sweep_every_s
        if not (60 % every == 0 if every <= 60 else every % 60 == 0 and 3600 % every == 0):
            raise ValueError("COMMS_SWEEP_EVERY_S must divide 60, or be 60k dividing 3600")
        return self

    @model_validator(mode="after")
    def _ebox_urls_of_the_version(self) -> Settings:
        """A v2 fund on v3 URLs (or the reverse) would fail on every letter: refuse to start."""
        paths = _EBOX_PATHS[self.ebox_api_version]
        for name, (ours, others) in paths.items():
            if name not in self.model_fields_set:
                setattr(self, name, getattr(self, name).replace(others, ours))
            elif others in getattr(self, name):
                version = self.ebox_api_version
                raise ValueError(f"COMMS_{name.upper()} is not a Message Registry {version} URL")
        return self

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production":
            if self.hmac_secret.get_secret_value() == DEV_HMAC_SECRET:
                raise ValueError("COMMS_HMAC_SECRET must be set in production")
            if not self.database_url:
                raise ValueError("COMMS_DATABASE_URL must be set in production")
            if not self.seal_keys.get_secret_value():
                raise ValueError("COMMS_SEAL_KEYS must be set in production")
            if secret_strength_bits(self.hmac_secret.get_secret_value()) < SECRET_MIN_BITS:
                raise ValueError(
                    "COMMS_HMAC_SECRET is too weak for production: it needs 32 random bytes"
                    f" (256 bits); make one with {MAKE_SECRET}"
                )
        return self

    @model_validator(mode="after")
    def _seal_keys_parse(self) -> Settings:
        if self.seal_keys.get_secret_value():
            parse_seal_keys(self.seal_keys.get_secret_value())
        return self

    @property
    def seal_key_ring(self) -> list[tuple[str, bytes]]:
        """The configured seal keys, newest (the one that seals) first; empty: the derived key."""
        text = self.seal_keys.get_secret_value()
        return parse_seal_keys(text) if text else []

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'comms.db').resolve()}"

    @property
    def archive_dir(self) -> Path:
        return self.data_dir / "archive"

    @property
    def post_dir(self) -> Path:
        return self.post_outbox_dir or self.data_dir / "outbox" / "post"


# Per eBox version: setting → (its path fragment, the other version's); domain/ebox.md.
_EBOX_PATHS = {
    "v2": {
        "ebox_base_url": ("/messageRegistry/v2", "/messageRegistry/v3"),
        "ebox_token_url": ("/REST/oauth/v3/", "/REST/oauth/v5/"),
    },
    "v3": {
        "ebox_base_url": ("/messageRegistry/v3", "/messageRegistry/v2"),
        "ebox_token_url": ("/REST/oauth/v5/", "/REST/oauth/v3/"),
    },
}


def load_settings(**overrides: object) -> Settings:
    """Reads the environment once; overrides are for tests and the demo."""
    return Settings(**overrides)  # type: ignore[arg-type]
