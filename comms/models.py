"""Value objects shared by the core: languages, channels, delivery states and a rendered message."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Language(str, Enum):
    """A correspondence language; one per document (domain §7)."""

    NL = "nl"  # Dutch, nl_BE
    FR = "fr"  # French, fr_BE

    @property
    def locale(self) -> str:
        return f"{self.value}_BE"


class ChannelName(str, Enum):
    """A way a communication reaches its recipient."""

    EBOX = "ebox"  # the government's electronic mailbox
    EMAIL = "email"  # SMTP to the address the member gave
    POST = "post"  # print shop batch, optionally registered


PRODUCER_SOURCE_PREFIX = "http:"  # the log's `source` evidence for an event an API user sent


def producer_source(producer: str) -> str:
    """How the log names the API user who sent an event (chained with its acceptance)."""
    return f"{PRODUCER_SOURCE_PREFIX}{producer}"


class Status(str, Enum):
    """The state of one delivery; each change is a new ledger row."""

    ACCEPTED = "accepted"  # event validated and recorded, nothing rendered yet
    REJECTED = "rejected"  # event failed validation; kept with its field errors
    REFUSED = "refused"  # composer refused to render (fail closed); kept with its reason
    ROUTED = "routed"  # a channel was chosen, with its reason
    RENDERED = "rendered"  # document rendered, archived and frozen
    DISPATCHED = "dispatched"  # the channel confirmed it took the message
    DELIVERED = "delivered"  # the channel confirmed it reached the recipient's box or door
    PUBLISHED_NO_ID = "published_no_id"  # eBox has it (409 replay), its message id is lost
    READ = "read"  # the recipient opened it (eBox)
    BOUNCED = "bounced"  # email bounced permanently
    RETURNED = "returned"  # postal mail came back undeliverable
    FAILED = "failed"  # the channel refused it permanently; fallback may follow
    SUPERSEDED = "superseded"  # a fallback channel took over this delivery

    @property
    def is_final(self) -> bool:
        return self in _FINAL


_FINAL = frozenset({Status.DELIVERED, Status.READ, Status.REJECTED, Status.REFUSED})


@dataclass(frozen=True)
class Document:
    """A rendered, frozen PDF with the facts compliance needs to prove what was sent."""

    pdf: bytes
    sha256: str
    template_version: str
    renderer_version: str
    filename: str


@dataclass(frozen=True)
class Message:
    """One event rendered in one language: the letter and its email and eBox wrappings."""

    doc_type: str
    language: Language
    subject: str
    email_text: str
    email_html: str
    ebox_subject: str
    document: Document
    page_count: int
    address_lines: tuple[str, ...] = ()
