"""The contract every delivery adapter meets: send a message, get a receipt, or say what next."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

# "published_no_id": the eBox took the message but its answer (message id) was lost (409 replay).
ChannelState = Literal[
    "dispatched", "delivered", "published_no_id", "read", "bounced", "returned", "failed"
]


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
