"""Value objects shared by the core: languages, channels, delivery states and a rendered message."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import Enum
from zoneinfo import ZoneInfo


class Language(str, Enum):
    """A correspondence language; one per document (domain §7)."""

    NL = "nl"  # Dutch, nl_BE
    FR = "fr"  # French, fr_BE

    @property
    def locale(self) -> str:
        return f"{self.value}_BE"


# Every legal day, deadline and retention year is a Belgian calendar day, not a UTC one.
BRUSSELS = ZoneInfo("Europe/Brussels")


def today_in_brussels() -> date:
    """Today as the fund's letters and the law count days."""
    return datetime.now(BRUSSELS).date()


# Evidence of an eBox receipt: published, but the recipient never reads their eBox (paper follows).
EVIDENCE_NO_DIGITAL_USER = "no_digital_user"
# Evidence of a `rendered` row: the archived wrappings (texts, address, versions) of its document.
EVIDENCE_WRAPPINGS = "wrappings_sha256"


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
    """The state of one delivery; each change is a new ledger row (see TRANSITIONS)."""

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
        """Nothing more is expected without a new fact: compliance's "stuck" leaves these out."""
        return self in _FINAL

    @property
    def handed_over(self) -> bool:
        """The channel holds the message (the letter counts as sent)."""
        return self in _HANDED_OVER

    @property
    def ever_handed_over(self) -> bool:
        """The channel took the message at some point, even if it bounced or came back since."""
        return self in _HANDED_OVER or self in (Status.BOUNCED, Status.RETURNED)

    @property
    def reached(self) -> bool:
        """The recipient's box or door has it."""
        return self in (Status.DELIVERED, Status.READ)

    @property
    def given_up(self) -> bool:
        """This channel will not deliver this communication: the next route is due."""
        return self in (Status.FAILED, Status.SUPERSEDED, Status.BOUNCED, Status.RETURNED)

    @property
    def retryable(self) -> bool:
        """An operator may send it on the same channel again (a bounce or a return needs a new
        address first)."""
        return self in (Status.FAILED, Status.SUPERSEDED)

    @property
    def waiting(self) -> bool:
        """The latest row of an event in this state means a worker stopped half way."""
        return self in (Status.ACCEPTED, Status.RENDERED, Status.ROUTED, Status.SUPERSEDED)

    @property
    def event_level(self) -> bool | None:
        """True: a row of the event (no communication id); False: of one communication; None:
        both (`failed` is a channel's refusal or, event-level, a dead letter)."""
        return _SCOPE.get(self)

    def may_follow(self, previous: Status | None) -> bool:
        """`previous` (the latest row of the same communication, or of the event) allows this."""
        return self in TRANSITIONS[previous]


_FINAL = frozenset({Status.DELIVERED, Status.READ, Status.REJECTED, Status.REFUSED})
_HANDED_OVER = frozenset({Status.DISPATCHED, Status.DELIVERED, Status.PUBLISHED_NO_ID, Status.READ})
_SCOPE: dict[Status, bool] = {
    Status.ACCEPTED: True,
    Status.REJECTED: True,
    Status.REFUSED: True,
    Status.RENDERED: True,
    Status.ROUTED: False,
    Status.DISPATCHED: False,
    Status.DELIVERED: False,
    Status.PUBLISHED_NO_ID: False,
    Status.READ: False,
    Status.BOUNCED: False,
    Status.RETURNED: False,
    Status.SUPERSEDED: False,
}

# The one table of allowed changes: previous state (of the same communication, or of the event for
# event-level rows; None: no row yet) → the states that may follow. `Ledger.record` enforces it;
# tracking uses it to tell a stale fact (printed after posted) from a new one.
TRANSITIONS: dict[Status | None, frozenset[Status]] = {
    # event level
    None: frozenset({Status.ACCEPTED, Status.REJECTED, Status.ROUTED}),  # ROUTED: a first send
    Status.ACCEPTED: frozenset({Status.RENDERED, Status.REFUSED, Status.FAILED}),
    Status.REJECTED: frozenset(),
    Status.REFUSED: frozenset(),
    # rendered again when the archived copy is gone; failed: dead letter or quarantine
    Status.RENDERED: frozenset({Status.RENDERED, Status.REFUSED, Status.FAILED}),
    # communication level
    Status.ROUTED: frozenset(
        {
            Status.ROUTED,  # a transient failure, retried later (the row says when)
            Status.DISPATCHED,
            Status.DELIVERED,  # eBox publishes straight into the box
            Status.PUBLISHED_NO_ID,  # eBox has it, its answer (the message id) was lost
            Status.FAILED,
            Status.SUPERSEDED,
        }
    ),
    Status.DISPATCHED: frozenset(
        {
            Status.DISPATCHED,  # more evidence: batched, then printed
            Status.DELIVERED,
            Status.READ,
            Status.BOUNCED,
            Status.RETURNED,
            Status.SUPERSEDED,  # a fallback took over (NO_DIGITAL_USER, unread)
        }
    ),
    Status.DELIVERED: frozenset(
        {Status.DELIVERED, Status.READ, Status.BOUNCED, Status.RETURNED, Status.SUPERSEDED}
    ),
    # no message id to poll or answer for: only a fallback that supersedes it, or a late read
    Status.PUBLISHED_NO_ID: frozenset({Status.READ, Status.SUPERSEDED}),
    Status.READ: frozenset(),
    Status.BOUNCED: frozenset({Status.SUPERSEDED}),
    Status.RETURNED: frozenset({Status.SUPERSEDED}),
    # a channel's refusal is superseded by the next route or retried by an operator; an
    # event-level dead letter may be rendered again or stay failed after an operator's retry
    Status.FAILED: frozenset({Status.SUPERSEDED, Status.ROUTED, Status.RENDERED, Status.FAILED}),
    Status.SUPERSEDED: frozenset({Status.READ, Status.ROUTED}),  # read late; operator retry
}


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
    # The fund as the member's language names it, and where a reply goes (templates/<lang>/fund.toml).
    sender_name: str = ""
    reply_to: str = ""
