"""What a document type is: the one record every other part of comms derives its rules from."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from comms.coherence.base import Rule
from comms.doctypes.parts import Arrears, Envelope, OpenItem, Payment

PAYMENT_MENTIONS = ("payment-amount", "payment-due", "payment-iban", "payment-ogm", "payment-qr")


@dataclass(frozen=True)
class Payable:
    """What a payment block and its QR code need, whatever the document type calls the fields."""

    amount: Decimal
    due_date: date
    payment: Payment
    debt: OpenItem | None = None  # the one debt of several this block pays (domain §2)


def per_debt(deadline: str) -> Callable[[Envelope], tuple[Payable, ...]]:
    """The payment blocks of an arrears letter paid by its payload's date `deadline`: one for the
    total when one reference covers it, else one per debt (domain §2)."""

    def payables(event: Envelope) -> tuple[Payable, ...]:
        p = event.payload
        assert isinstance(p, Arrears)
        due: date = getattr(p, deadline)
        account = p.payment.model_dump(exclude={"structured_communication"})
        covering = p.payment.structured_communication
        if covering is not None:
            return (
                Payable(p.total_due, due, Payment(**account, structured_communication=covering)),
            )
        return tuple(
            Payable(
                item.amount + item.surcharges,
                due,
                Payment(**account, structured_communication=item.structured_communication),
                debt=item if len(p.open_items) > 1 else None,
            )
            for item in p.open_items
        )

    return payables


def single(amount: str, due: str) -> Callable[[Envelope], tuple[Payable, ...]]:
    """One payment block from the payload's `amount`, `due` and `payment` fields; none when
    nothing is owed or the letter names no payment (a statement or regularisation in credit)."""

    def payables(event: Envelope) -> tuple[Payable, ...]:
        p = event.payload
        owed: Decimal | None = getattr(p, amount)
        by: date | None = getattr(p, due)
        account: Payment | None = getattr(p, "payment", None)
        if owed is None or owed <= 0 or by is None or account is None:
            return ()
        return (Payable(owed, by, account),)

    return payables


def _not_payable(_event: Envelope) -> tuple[Payable, ...]:
    return ()


def _no_extra_mentions(_event: Envelope) -> tuple[str, ...]:
    return ()


def _dossier(event: Envelope) -> str:
    return event.dossier


@dataclass(frozen=True)
class DocType:
    """One kind of letter and the rules that hold for every one of them (DESIGN.md, "Adding a
    document type"): the event union, the catalogue, settings defaults, reports, retention, the
    routing check and the coherence check are derived from these records."""

    name: str  # the event's `type`, the template folder, the ledger's doc_type
    event: type[Envelope]  # the event model: the envelope, `type: Literal[name]`, the payload
    mentions: tuple[str, ...] = ()  # mandatory mentions (`data-mention` markers in the letter)
    registered: bool = False  # by law, paper goes as registered mail (routing.toml must agree)
    urgent: bool = False  # on the urgent queue: a legal period starts with it
    retention_years: int = 10  # from 1 January after the event; the default of settings
    # name in the ledger's event_dates → its path in the event JSON; reports compare sending
    # times with `due_date` (notices) and `decision_date` (decisions)
    key_dates: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # the type's default routing, in the keys of a routing.toml `[types.<name>]` table (without
    # `registered`); the file's own table for the type is laid over it
    routing: Mapping[str, Any] = field(default_factory=dict)
    # the payment blocks: one, or one per debt when no reference covers them all (domain §2)
    payables: Callable[[Envelope], tuple[Payable, ...]] = _not_payable
    extra_mentions: Callable[[Envelope], tuple[str, ...]] = _no_extra_mentions
    # The one number the member quotes (issue 16 §6): the file, or a decision's file reference.
    reference: Callable[[Envelope], str] = _dossier
    # what the letter prints must hold together on its date, checked before it is rendered
    # (comms.coherence, docs/letters.md); shared sets: comms.coherence.arrears, .calculation
    rules: tuple[Rule, ...] = ()

    def payable(self, event: Envelope) -> Payable | None:
        """The letter's one payment, or None when it has none or one block per debt."""
        found = self.payables(event)
        return found[0] if len(found) == 1 else None

    def required_mentions(self, event: Envelope) -> tuple[str, ...]:
        payment = PAYMENT_MENTIONS if self.payables(event) else ()
        return self.mentions + payment + self.extra_mentions(event)
