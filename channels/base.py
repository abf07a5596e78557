"""The contract between the core and the delivery adapters: send a message, get a receipt or say
what next; and read back what became of it (bounces, eBox read statuses, the print shop's files).
"""

from __future__ import annotations

import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from functools import cache
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, NamedTuple, Protocol, Self, runtime_checkable

# "published_no_id": the eBox took the message but its answer (message id) was lost (409 replay).
ChannelState = Literal[
    "dispatched", "delivered", "published_no_id", "read", "bounced", "returned", "failed"
]


@cache
def tls_context() -> ssl.SSLContext:
    """httpx's default verification, built once per process: loading the CA bundle takes 60 ms.

    A context holds the trust store and settings, not connections: clients that must not share
    connections (one per webhook endpoint) may still share it; each checks its own host name.
    httpx sets ALPN on it at every connection: a client with `http2=True` would set it for all.
    """
    import httpx  # only the adapters that speak HTTP need it, not every process that imports this

    return httpx.create_ssl_context()


class TransientError(Exception):
    """Try again later (SMTP 4xx, eBox 5xx/429, timeouts); `retry_after_s` is a hint."""

    def __init__(self, reason: str, *, retry_after_s: float = 60.0) -> None:
        self.reason = reason
        self.retry_after_s = retry_after_s
        super().__init__(reason)


class PermanentError(Exception):
    """This channel will never take this message (SMTP 5xx, eBox 4xx): fall back to the next one."""

    def __init__(self, reason: str, *, evidence: Mapping[str, str] | None = None) -> None:
        self.reason = reason
        self.evidence = dict(evidence or {})
        super().__init__(reason)


@dataclass(frozen=True)
class Attachment:
    """A file that travels with the message, usually the letter's PDF."""

    filename: str
    content: bytes
    content_type: str = "application/pdf"


@dataclass(frozen=True)
class ChannelAddress:
    """Where the message goes, in each channel's terms; a channel reads only its own part."""

    label: str  # the recipient's name as it appears on the envelope or in the To header
    email: str | None = None
    ebox_type: Literal["citizen", "enterprise"] | None = None
    ebox_id: str | None = None  # SSIN or enterprise number, digits only
    attention_of: str | None = None
    postal_lines: tuple[str, ...] = ()  # bpost lines, the name first (domain §8)
    postcode: str = ""


@dataclass(frozen=True)
class Outgoing:
    """One message ready for one channel; `communication_id` is the same on every retry."""

    communication_id: str
    language: str  # a single language code: eBox refuses several (domain/ebox.md)
    subject: str
    text: str
    html: str
    document: Attachment
    to: ChannelAddress
    registered: bool = False
    attach_document: bool = True  # email: attach the PDF, or send a notification only
    headers: Mapping[str, str] = field(default_factory=dict)
    sender_name: str | None = None  # email: the From name for this message, else the channel's
    reply_to: str | None = None  # email: where a reply goes (Reply-To)


@dataclass(frozen=True)
class Receipt:
    """The channel's confirmation that it took the message, with its evidence."""

    channel: str
    communication_id: str
    outcome: ChannelState
    evidence: Mapping[str, str] = field(default_factory=dict)
    also_by_post: bool = False  # eBox NO_DIGITAL_USER: published, but the recipient never looks


@dataclass(frozen=True)
class StatusUpdate:
    """A later fact about a sent message: read, bounced, returned, delivered by the print shop."""

    channel: str
    communication_id: str
    outcome: ChannelState
    evidence: Mapping[str, str] = field(default_factory=dict)


# Where a letter sits in the print shop's run: its postal evidence, and how the shop's files find it.
EVIDENCE_PRINT_BATCH = "print_batch"
EVIDENCE_PRINT_SEQUENCE = "print_sequence"


def placement(batch_id: str, sequence: int) -> dict[str, str]:
    """The evidence naming a letter's print batch and its place in it."""
    return {EVIDENCE_PRINT_BATCH: batch_id, EVIDENCE_PRINT_SEQUENCE: str(sequence)}


def placed_update(batch_id: str, sequence: int, communication_id: str) -> StatusUpdate:
    """A letter cut into a print batch: dispatched, with its placement as evidence."""
    return StatusUpdate("post", communication_id, "dispatched", placement(batch_id, sequence))


@runtime_checkable
class Channel(Protocol):
    """Open once, send many, close; usable as an async context manager (Django mail backends)."""

    name: str

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def send(self, outgoing: Outgoing) -> Receipt: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


class BaseChannel:
    """Shared open/close/context-manager plumbing; subclasses implement `send`."""

    name = "base"

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def send(self, outgoing: Outgoing) -> Receipt:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


# --- feedback: what channels tell later about the messages they took ------------------------


class BounceKind(str, Enum):
    """What a message to the bounce address is, as far as the sender can act on it."""

    FAILED = "failed"  # hard bounce: the mail system gave up on the message
    DELAYED = "delayed"  # still trying: no state change, a failure report may follow
    DELIVERED = "delivered"  # a success report (delivered, relayed, expanded)
    AUTO_REPLY = "auto_reply"  # out of office, vacation, autoresponder (RFC 3834): not a bounce
    UNKNOWN = "unknown"  # neither: a human reads it (e.g. a bounce without a DSN part)


@dataclass(frozen=True)
class RecipientStatus:
    """One per-recipient block of a DSN, without the recipient's address."""

    action: str  # RFC 3464 §2.3.3
    status: str  # RFC 3463 enhanced status, e.g. 5.1.1; "" if absent
    smtp_code: str  # the remote server's reply code from Diagnostic-Code, e.g. 550; "" if absent
    meaning: str  # the status in our own fixed words (RFC 3463), never the server's text


@dataclass(frozen=True)
class BounceReport:
    """The classification of one message, and the communications it is about."""

    kind: BounceKind
    communication_ids: tuple[str, ...]  # ours, from the returned headers or the message text
    recipients: tuple[RecipientStatus, ...]
    why: str  # what the classification rests on, in a few words (no personal data)
    sha256: str  # of the raw message, so the original can be matched if someone kept it

    def status_updates(self) -> list[StatusUpdate]:
        """`bounced` for a hard bounce, `delivered` for a success report; nothing otherwise."""
        outcome: ChannelState
        if self.kind is BounceKind.FAILED:
            outcome = "bounced"
        elif self.kind is BounceKind.DELIVERED:
            outcome = "delivered"
        else:
            return []
        if not self.recipients:
            return []
        worst = self.recipients[0]
        evidence = {"dsn_action": worst.action, "dsn_sha256": self.sha256}
        if worst.status:
            evidence["dsn_status"] = worst.status
            evidence["dsn_meaning"] = worst.meaning
        if worst.smtp_code:
            evidence["smtp_code"] = worst.smtp_code
        return [StatusUpdate("email", cid, outcome, evidence) for cid in self.communication_ids]


@dataclass(frozen=True)
class Problem:
    """A line of a feedback file that was not used, and why (no values: they may be personal)."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass
class FileFeedback:
    """What a print-shop file said: the updates to apply and the lines that could not be used."""

    updates: list[StatusUpdate] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


class StatusQuery(NamedTuple):
    """One published eBox message to ask about; the eBox type follows from the id's length."""

    communication_id: str
    message_id: str
    ebox_id: str  # SSIN or enterprise number, digits only


@runtime_checkable
class ReadStatusSource(Protocol):
    """A channel that tells which of its messages were read (the eBox's status search)."""

    async def read_statuses(self, message_ids: Sequence[StatusQuery]) -> list[StatusUpdate]: ...


@runtime_checkable
class PreferencesLookup(Protocol):
    """A channel that says which companies chose the eBox (the federation's preferences search)."""

    async def preferences(self, enterprise_numbers: Sequence[str]) -> dict[str, dict[str, Any]]: ...


class BounceSource(Protocol):
    """The mailbox returned emails come back to: one message classified, or a whole store."""

    def classify(self, raw: bytes) -> BounceReport: ...

    def reports(self, path: Path) -> Iterable[tuple[str, BounceReport]]:
        """(where it came from, its classification) for every message of a Maildir, mbox or file."""
        ...


class PrintShopFeedback(Protocol):
    """The print shop's files about our letters: acknowledgements (printed, posted) and returns."""

    def acknowledgements(self, content: bytes) -> FileFeedback: ...

    def returns(self, content: bytes) -> FileFeedback: ...


class PrintRun(Protocol):
    """A print batch just cut: each letter's `dispatched` update, its place as evidence
    (`print_batch`, `print_sequence`)."""

    def status_updates(self) -> list[StatusUpdate]: ...


class PrintBatchCloser(Protocol):
    """Closes the letters waiting in the post outbox into print batches for the print shop."""

    def cut(self, *, force: bool) -> Sequence[PrintRun]:
        """New batches; without `force`, only full ones (the rest waits for the schedule)."""
        ...

    def placed_since(self, since: datetime) -> list[StatusUpdate]:
        """Every letter of the batches cut since `since`, as in `PrintRun` (to repair rows)."""
        ...
