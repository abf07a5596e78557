"""The contract with upstream: one envelope, one payload model per event type, discriminated by `type`."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, from_json

from comms.errors import FieldError, InvalidEvent, field_error
from comms.identifiers import (
    digits_only,
    is_valid_enterprise_number,
    is_valid_iban,
    is_valid_national_number,
)
from comms.models import Language
from comms.payment import is_valid_structured_communication, normalise_structured_communication

SCHEMA_VERSION: Literal[1] = 1


class Strict(BaseModel):
    """Unknown fields are refused, so a typo upstream never silently drops a value."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def _national_number(value: str) -> str:
    if not is_valid_national_number(value):
        raise ValueError("not a valid national number (INSZ/NISS): check digits do not match")
    return digits_only(value)


def _enterprise_number(value: str) -> str:
    if not is_valid_enterprise_number(value):
        raise ValueError("not a valid enterprise number (KBO/BCE): check digits do not match")
    return digits_only(value)


def _iban(value: str) -> str:
    if not is_valid_iban(value):
        raise ValueError("not a valid IBAN: check digits do not match")
    return value.replace(" ", "").upper()


def _ogm(value: str) -> str:
    if not is_valid_structured_communication(value):
        raise ValueError("not a valid structured communication (+++ddd/dddd/ddddd+++, mod 97)")
    return normalise_structured_communication(value)


NationalNumber = Annotated[str, StringConstraints(max_length=20), AfterValidator(_national_number)]
EnterpriseNumber = Annotated[
    str, StringConstraints(max_length=14), AfterValidator(_enterprise_number)
]
Iban = Annotated[str, StringConstraints(max_length=42), AfterValidator(_iban)]
StructuredCommunication = Annotated[str, StringConstraints(max_length=20), AfterValidator(_ogm)]
Bic = Annotated[str, StringConstraints(pattern=r"^[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$")]
Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2, ge=0)]
SignedMoney = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]
# What a letter asks the member to pay: at least a cent (nothing to pay is no payment letter).
AmountDue = Annotated[Decimal, Field(max_digits=12, decimal_places=2, gt=0)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=70)]
Year = Annotated[int, Field(ge=1990, le=2100)]
Quarter = Annotated[int, Field(ge=1, le=4)]


def _field_error(model: str, loc: tuple[str, ...], message: str) -> ValidationError:
    """A rule across fields, reported on the one field to correct (`payload.recovery.due_date`)."""
    detail = InitErrorDetails(type=PydanticCustomError("value_error", message), loc=loc, input=None)
    return ValidationError.from_exception_data(model, [detail])


# --- the envelope -----------------------------------------------------------------------------


class PostalAddress(Strict):
    """A bpost address (royal decree of 24 April 2014, art. 34): street, number, box, postcode, town."""

    street: ShortText
    number: Annotated[str, StringConstraints(min_length=1, max_length=10)]
    box: Annotated[str, StringConstraints(min_length=1, max_length=10)] | None = None
    postcode: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9 -]{3,10}$")]
    municipality: ShortText
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "BE"

    @model_validator(mode="after")
    def _belgian_postcode(self) -> PostalAddress:
        if self.country == "BE" and not re.fullmatch(r"[1-9]\d{3}", self.postcode):
            raise ValueError("a Belgian postcode has four digits, without the B- prefix")
        return self


class EboxKnowledge(Strict):
    """What upstream knows of the recipient's eBox; routing decides, the channel confirms."""

    has_ebox: bool = False
    exclusively_ebox: bool = False


class Consents(Strict):
    """Channels the recipient agreed to; email needs an explicit yes."""

    email: bool = False


class _RecipientBase(Strict):
    name: Name
    language: Language
    address: PostalAddress
    email: EmailStr | None = None
    ebox: EboxKnowledge = EboxKnowledge()
    consents: Consents = Consents()


class PersonRecipient(_RecipientBase):
    """A self-employed person, identified by the national number."""

    kind: Literal["person"] = "person"
    national_number: NationalNumber


class CompanyRecipient(_RecipientBase):
    """A company, identified by its enterprise number, with an optional named contact."""

    kind: Literal["company"] = "company"
    enterprise_number: EnterpriseNumber
    attention_of: Name | None = None


Recipient = Annotated[PersonRecipient | CompanyRecipient, Field(discriminator="kind")]


class Payment(Strict):
    """Where and how to pay: the fund's account and the debt's one structured communication."""

    beneficiary: Name
    iban: Iban
    bic: Bic
    structured_communication: StructuredCommunication


class Contact(Strict):
    """A person or service the member can reach (charter: 'van mens tot mens')."""

    name: ShortText
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ./()-]{6,25}$")]
    email: EmailStr | None = None


class OpenItem(Strict):
    """One unpaid debt: its period, original amount and the surcharges added since."""

    kind: Literal["provisional", "regularisation", "company_contribution"]
    year: Year
    quarter: Quarter | None = None
    original_due_date: date
    amount: Money
    surcharges: Money = Decimal("0.00")


# --- payloads ---------------------------------------------------------------------------------


class CalculationBasis(Strict):
    """How the contribution was computed, so the member can check it (charter §3)."""

    reference_income: Money
    income_year: Year
    rate_percent: Annotated[Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=3)]
    contribution: Money
    management_costs: Money = Decimal("0.00")


class ContributionNotice(Strict):
    """Vervaldagbericht / avis d'échéance for a quarterly provisional contribution or a regularisation."""

    kind: Literal["provisional", "regularisation"]
    year: Year
    quarter: Quarter
    amount: AmountDue
    due_date: date
    calculation: CalculationBasis
    payment: Payment

    @model_validator(mode="after")
    def _amount_matches_calculation(self) -> ContributionNotice:
        if self.calculation.contribution + self.calculation.management_costs != self.amount:
            raise ValueError("amount must equal the contribution plus the management costs")
        return self


class _Arrears(Strict):
    open_items: Annotated[list[OpenItem], Field(min_length=1, max_length=200)]
    surcharges_total: Money
    total_due: AmountDue
    payment: Payment
    contact: Contact

    @model_validator(mode="after")
    def _totals_add_up(self) -> _Arrears:
        surcharges = sum((i.surcharges for i in self.open_items), Decimal("0"))
        principal = sum((i.amount for i in self.open_items), Decimal("0"))
        if surcharges != self.surcharges_total:
            raise ValueError("surcharges_total must equal the sum of the items' surcharges")
        if principal + surcharges != self.total_due:
            raise ValueError("total_due must equal the items' amounts plus their surcharges")
        return self


class PaymentReminder(_Arrears):
    """Herinnering / rappel: what is open, the surcharges so far, a new deadline, and where to get help."""

    new_deadline: date


class FormalNotice(_Arrears):
    """Ingebrekestelling / mise en demeure (art. 46 RD 19-12-1967): always by registered post."""

    deadline: date
    next_step: Literal["judicial_recovery", "enforcement_order"]


class CalculationLine(Strict):
    """One line of how a recovered amount was computed."""

    label: ShortText
    amount: SignedMoney


class Recovery(Strict):
    """What art. 15 of the charter of the socially insured requires of a recovery decision, and
    what the member needs to repay: the account, the structured communication and the date."""

    total: AmountDue
    calculation: Annotated[list[CalculationLine], Field(min_length=1, max_length=50)]
    period_from: date
    period_to: date
    provisions_breached: Annotated[list[Text], Field(min_length=1, max_length=20)]
    prescription_years: Annotated[int, Field(ge=1, le=30)]
    instalments_possible: bool = True
    due_date: date = Field(
        description="The date by which the total must be on the fund's account; "
        "not before the decision date."
    )
    payment: Payment = Field(
        description="The account to repay to and this recovery's one structured communication."
    )

    @model_validator(mode="after")
    def _total_matches(self) -> Recovery:
        if sum((line.amount for line in self.calculation), Decimal("0")) != self.total:
            raise ValueError("total must equal the sum of the calculation lines")
        if self.period_to < self.period_from:
            raise ValueError("period_to lies before period_from")
        return self


class Court(Strict):
    """The competent labour court and where to file the appeal."""

    name: ShortText
    address: PostalAddress


class Appeal(Strict):
    """Art. 14 of the charter of the socially insured: without these the appeal period does not start."""

    court: Court
    deadline_months: Annotated[int, Field(ge=3, le=12)]
    file_reference: ShortText
    handling_service: ShortText
    explanations: Contact


class Decision(Strict):
    """A refusal or a recovery, with its reasons in fact and in law and the appeal information."""

    kind: Literal["refusal", "recovery"]
    decision_date: date
    subject: ShortText
    outcome: Text
    reasons_in_fact: Annotated[list[Text], Field(min_length=1, max_length=20)]
    reasons_in_law: Annotated[list[Text], Field(min_length=1, max_length=20)]
    legal_basis: Annotated[list[ShortText], Field(min_length=1, max_length=20)]
    recovery: Recovery | None = None
    appeal: Appeal

    @model_validator(mode="after")
    def _recovery_details(self) -> Decision:
        if self.kind == "recovery" and self.recovery is None:
            raise ValueError("a recovery decision needs its recovery details (charter art. 15)")
        if self.kind == "refusal" and self.recovery is not None:
            raise ValueError("a refusal carries no recovery details")
        if self.recovery is not None and self.recovery.due_date < self.decision_date:
            raise _field_error(
                "Decision", ("recovery", "due_date"), "due_date lies before the decision_date"
            )
        return self


class QuarterPaid(Strict):
    """Contributions paid during one quarter of the certificate's year (cash basis)."""

    quarter: Quarter
    amount: Money


class TaxCertificate(Strict):
    """Fiscaal attest / attestation fiscale: contributions paid in the year, minus refunds (domain §6)."""

    year: Year
    paid: Annotated[list[QuarterPaid], Field(min_length=1, max_length=4)]
    refunds: Money = Decimal("0.00")
    deductible_total: SignedMoney

    @model_validator(mode="after")
    def _deductible(self) -> TaxCertificate:
        quarters = [p.quarter for p in self.paid]
        if len(set(quarters)) != len(quarters):
            raise ValueError("each quarter appears at most once")
        total = sum((p.amount for p in self.paid), Decimal("0")) - self.refunds
        if total != self.deductible_total:
            raise ValueError("deductible_total must equal the amounts paid minus the refunds")
        return self


class CompanyContributionNotice(Strict):
    """Annual contribution of companies: flat amount by tier, due 30 June (domain §6)."""

    enterprise_number: EnterpriseNumber
    year: Year
    tier: Literal["standard", "higher"]
    amount: AmountDue
    due_date: date
    payment: Payment


class Movement(Strict):
    """One line of an account statement; debits raise the balance, credits lower it."""

    booked_on: date
    kind: Literal["contribution", "regularisation", "surcharge", "costs", "payment", "refund"]
    year: Year
    quarter: Quarter | None = None
    debit: Money = Decimal("0.00")
    credit: Money = Decimal("0.00")


class AccountStatement(Strict):
    """Rekeninguittreksel / extrait de compte: the movements and the balance at a date (charter §4)."""

    statement_date: date
    opening_balance: SignedMoney
    movements: Annotated[list[Movement], Field(max_length=500)]
    balance: SignedMoney
    pay_by: date | None = None
    payment: Payment | None = None

    @model_validator(mode="after")
    def _balance(self) -> AccountStatement:
        moved = sum((m.debit - m.credit for m in self.movements), Decimal("0"))
        if self.opening_balance + moved != self.balance:
            raise ValueError("balance must equal the opening balance plus debits minus credits")
        if self.balance > 0 and (self.payment is None or self.pay_by is None):
            raise ValueError("a statement with an amount due needs pay_by and payment details")
        return self


# --- events -----------------------------------------------------------------------------------

EventId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{7,99}$")]


class _Envelope(Strict):
    event_id: EventId = Field(description="Idempotency key: the same id is processed once.")
    schema_version: Literal[1] = SCHEMA_VERSION
    occurred_at: AwareDatetime
    dossier: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9./-]{1,40}$")]
    recipient: Recipient


class ContributionNoticeEvent(_Envelope):
    type: Literal["contribution_notice"]
    payload: ContributionNotice


class PaymentReminderEvent(_Envelope):
    type: Literal["payment_reminder"]
    payload: PaymentReminder


class FormalNoticeEvent(_Envelope):
    type: Literal["formal_notice"]
    payload: FormalNotice


class DecisionEvent(_Envelope):
    type: Literal["decision"]
    payload: Decision


class TaxCertificateEvent(_Envelope):
    type: Literal["tax_certificate"]
    payload: TaxCertificate


class CompanyContributionNoticeEvent(_Envelope):
    type: Literal["company_contribution_notice"]
    payload: CompanyContributionNotice

    @model_validator(mode="after")
    def _company(self) -> CompanyContributionNoticeEvent:
        r = self.recipient
        if not isinstance(r, CompanyRecipient):
            raise ValueError("the company contribution goes to a company recipient")
        if r.enterprise_number != self.payload.enterprise_number:
            raise ValueError("payload.enterprise_number differs from the recipient's")
        return self


class AccountStatementEvent(_Envelope):
    type: Literal["account_statement"]
    payload: AccountStatement


Event = Annotated[
    ContributionNoticeEvent
    | PaymentReminderEvent
    | FormalNoticeEvent
    | DecisionEvent
    | TaxCertificateEvent
    | CompanyContributionNoticeEvent
    | AccountStatementEvent,
    Field(discriminator="type"),
]

EVENT_TYPES: dict[str, type[_Envelope]] = {
    "contribution_notice": ContributionNoticeEvent,
    "payment_reminder": PaymentReminderEvent,
    "formal_notice": FormalNoticeEvent,
    "decision": DecisionEvent,
    "tax_certificate": TaxCertificateEvent,
    "company_contribution_notice": CompanyContributionNoticeEvent,
    "account_statement": AccountStatementEvent,
}

AnyEvent = (
    ContributionNoticeEvent
    | PaymentReminderEvent
    | FormalNoticeEvent
    | DecisionEvent
    | TaxCertificateEvent
    | CompanyContributionNoticeEvent
    | AccountStatementEvent
)

_ADAPTER: TypeAdapter[AnyEvent] = TypeAdapter(Event)


def _field_errors(exc: ValidationError) -> list[FieldError]:
    """Pydantic's errors without `input`: the offending value may be a national number or a name."""
    return _unique(
        field_error(_public_path(err["loc"]), err["type"], err["msg"], err.get("ctx", {}))
        for err in exc.errors(include_input=False, include_url=False)
    )


def _unique(errors: Iterable[FieldError]) -> list[FieldError]:
    seen: dict[str, FieldError] = {}
    for e in errors:
        seen.setdefault(str(e), e)
    return list(seen.values())


def _public_path(loc: tuple[int | str, ...]) -> list[int | str]:
    """The path with the contract's own names only: a name upstream made up may be personal.

    An unknown field (`recipient.85073003328`) is reported on its parent, the name replaced by
    UNKNOWN_FIELD; the discriminator values pydantic puts in paths are dropped
    (`decision.payload.x` → `payload.x`).
    """
    parts = list(loc)
    if parts and parts[0] in EVENT_TYPES:
        parts = parts[1:]
    if len(parts) > 1 and parts[0] == "recipient" and parts[1] in ("person", "company"):
        del parts[1]
    return [p if isinstance(p, int) or p in _CONTRACT_NAMES else UNKNOWN_FIELD for p in parts]


def _contract_names() -> frozenset[str]:
    """Every property name the event JSON Schema declares, at any depth."""
    names: set[str] = set()
    stack: list[Any] = [_ADAPTER.json_schema(mode="validation")]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            props = node.get("properties")
            if isinstance(props, dict):
                names.update(props)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return frozenset(names)


UNKNOWN_FIELD = "(unknown field)"  # stands for a field name that is not in the contract
_CONTRACT_NAMES = _contract_names()


def parse_event(raw: str | bytes | dict[str, Any]) -> AnyEvent:
    """Validates one event; raises InvalidEvent with field-level errors and no personal values.

    Text a database or an encoder cannot hold (NUL, unpaired surrogates) is refused here, by
    field, so that no door stores or answers it.
    """
    try:
        data: Any = raw if isinstance(raw, dict) else from_json(raw)
    except ValueError:
        data = None  # not JSON (or nested beyond jiter's limit): pydantic says so below
    try:
        unsafe = _unsafe_text(data)
        if unsafe:
            raise InvalidEvent(unsafe)
        if isinstance(raw, dict):
            return _ADAPTER.validate_python(raw)
        return _ADAPTER.validate_json(raw)
    except ValidationError as exc:
        errors = _field_errors(exc)
    except InvalidEvent as exc:
        errors = exc.errors
    event_id, doc_type = envelope_of(raw)
    raise InvalidEvent(errors, event_id=event_id, doc_type=doc_type) from None


def _unsafe_text(data: Any) -> list[FieldError]:
    """Keys and strings holding NUL or an unpaired surrogate, by field (PostgreSQL refuses NUL)."""
    found: list[FieldError] = []
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(data, ())]
    while stack:
        node, loc = stack.pop()
        if isinstance(node, str):
            if not is_storable_text(node):
                found.append(field_error(_public_path(loc), "text", UNSAFE_TEXT, {}))
        elif isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and not is_storable_text(key):
                    found.append(field_error(_public_path(loc), "text", UNSAFE_NAME, {}))
                else:
                    stack.append((value, (*loc, key)))
        elif isinstance(node, list):
            stack.extend((v, (*loc, i)) for i, v in enumerate(node))
    return _unique(found)


UNSAFE_TEXT = "holds a NUL character or an unpaired surrogate"
UNSAFE_NAME = "has a field name holding a NUL character or an unpaired surrogate"


def is_storable_text(text: str) -> bool:
    """False for text no database column or UTF-8 encoder takes as it is (NUL, lone surrogates)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


_EVENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,99}")
# One JSON token: a string (escapes kept) or a structural character; scanned without recursion.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]')


def envelope_of(raw: str | bytes | Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The event id and type of an invalid event when both are well-formed, else None.

    A malformed id is not kept: it may hold a name, and would enter the chained log. The text is
    scanned token by token, so no nesting depth can exhaust the stack.
    """
    top: Mapping[str, Any]
    if isinstance(raw, Mapping):
        top = raw
    else:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        top = _top_level_strings(text)
    event_id, doc_type = top.get("event_id"), top.get("type")
    if not (isinstance(event_id, str) and _EVENT_ID.fullmatch(event_id.strip())):
        event_id = None
    if not (isinstance(doc_type, str) and doc_type in EVENT_TYPES):
        doc_type = None
    return (event_id.strip() if event_id else None), doc_type


def _top_level_strings(text: str) -> dict[str, str]:
    """The string-valued members of the outermost JSON object, however deep the rest goes."""
    found: dict[str, str] = {}
    depth = 0
    recent: list[str] = []  # the last three tokens at depth 1: key, colon, value
    for match in _TOKEN.finditer(text):
        piece = match.group()
        if piece in "{[":
            depth += 1
            recent.clear()
        elif piece in "}]":
            depth -= 1
            recent.clear()
        elif depth == 1:
            recent = [*recent[-2:], piece]
            if len(recent) == 3 and recent[1] == ":" and recent[0][0] == recent[2][0] == '"':
                try:
                    key, value = json.loads(recent[0]), json.loads(recent[2])
                except ValueError:
                    continue
                found.setdefault(key, value)
    return found


def event_id_of(raw: str | bytes | dict[str, Any]) -> str | None:
    """Best-effort event id of an invalid event, so its rejection can still be found."""
    return envelope_of(raw)[0]


def sealable_text(raw: str | bytes | Mapping[str, Any]) -> str:
    """A rejected input as text to seal, whatever it holds (bytes that are not UTF-8, surrogates)."""
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "replace")
    if isinstance(raw, str):
        return raw.encode("utf-8", "backslashreplace").decode("utf-8")
    return json.dumps(dict(raw), default=str)


def event_json_schema() -> dict[str, Any]:
    """The JSON Schema upstream developers validate against (`comms schema`)."""
    return _ADAPTER.json_schema(mode="validation")


def to_json(event: AnyEvent) -> str:
    """Canonical JSON of an event, the form snapshots and content hashes are made of."""
    return event.model_dump_json()
