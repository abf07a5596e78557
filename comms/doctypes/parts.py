"""What every event shares: the envelope, the recipient, payment details and checked identifiers.

Each document type (one module beside this one) builds its payload from these parts.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

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


def field_rule_error(model: str, loc: tuple[str, ...], message: str) -> ValidationError:
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

    @property
    def subject_id(self) -> str:
        """The number the ledger, the eBox and the member's file know this recipient by."""
        return self.national_number


class CompanyRecipient(_RecipientBase):
    """A company, identified by its enterprise number, with an optional named contact."""

    kind: Literal["company"] = "company"
    enterprise_number: EnterpriseNumber
    attention_of: Name | None = None

    @property
    def subject_id(self) -> str:
        """The number the ledger, the eBox and the company's file know this recipient by."""
        return self.enterprise_number


Recipient = Annotated[PersonRecipient | CompanyRecipient, Field(discriminator="kind")]


class Account(Strict):
    """The fund's account a member pays into."""

    beneficiary: Name
    iban: Iban
    bic: Bic


class Payment(Account):
    """Where and how to pay: the fund's account and the debt's one structured communication."""

    structured_communication: StructuredCommunication


class CoveringPayment(Account):
    """The account for a letter of several debts, each with its own reference (domain §2).

    `structured_communication` is given only when upstream has one reference covering them all;
    without it the letter prints one payment block per debt.
    """

    structured_communication: StructuredCommunication | None = None


class Contact(Strict):
    """A person or service the member can reach (charter: 'van mens tot mens')."""

    name: ShortText
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ./()-]{6,25}$")]
    email: EmailStr | None = None


Rate = Annotated[Decimal, Field(ge=0, le=100, max_digits=6, decimal_places=3)]


class Surcharge(Strict):
    """One surcharge on one debt: the rate applied on a date to the unpaid amount (domain §4)."""

    on: date
    rate_percent: Rate
    amount: Money


class OpenItem(Strict):
    """One unpaid debt: its period, original amount, its own reference and the surcharges since."""

    kind: Literal["provisional", "regularisation", "company_contribution"]
    year: Year
    quarter: Quarter | None = None
    original_due_date: date
    amount: Money
    structured_communication: StructuredCommunication = Field(
        description="This debt's own reference, the one its notice carried (domain §2)."
    )
    surcharge_lines: Annotated[list[Surcharge], Field(max_length=200)] = []
    surcharges: Money = Decimal("0.00")

    @model_validator(mode="after")
    def _surcharges_add_up(self) -> OpenItem:
        if sum((s.amount for s in self.surcharge_lines), Decimal("0")) != self.surcharges:
            raise ValueError("surcharges must equal the sum of the surcharge lines")
        return self


class Bracket(Strict):
    """One band of the yearly contribution: its rate on the part of the income inside the band."""

    income_from: Money
    income_to: Money | None = Field(None, description="None: the band has no upper ceiling.")
    rate_percent: Rate
    amount: Money


class YearlyCalculation(Strict):
    """The yearly contribution from an income, band by band, and the fund's costs (domain §4).

    Upstream computes with the year's ceilings, minimum and maximum; comms checks that every
    printed line follows from the lines above it (docs/letters.md).
    """

    reference_income: Money = Field(description="Indexed when it is an earlier year's income.")
    income_year: Year
    brackets: Annotated[list[Bracket], Field(min_length=1, max_length=5)]
    yearly_contribution: Money
    adjusted_to: Literal["minimum", "maximum"] | None = Field(
        None, description="The category's yearly minimum or maximum replaced the bands' sum."
    )
    management_costs_percent: Rate = Decimal("0")


class Arrears(Strict):
    """What is open and still due, with where to pay and whom to call (reminders, formal notices)."""

    open_items: Annotated[list[OpenItem], Field(min_length=1, max_length=200)]
    surcharges_total: Money
    total_due: AmountDue
    payment: CoveringPayment
    contact: Contact

    @model_validator(mode="after")
    def _totals_add_up(self) -> Arrears:
        surcharges = sum((i.surcharges for i in self.open_items), Decimal("0"))
        principal = sum((i.amount for i in self.open_items), Decimal("0"))
        if surcharges != self.surcharges_total:
            raise ValueError("surcharges_total must equal the sum of the items' surcharges")
        if principal + surcharges != self.total_due:
            raise ValueError("total_due must equal the items' amounts plus their surcharges")
        return self


# --- events -----------------------------------------------------------------------------------

EVENT_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._:-]{7,99}"  # also what a rejection may keep as its id
EventId = Annotated[str, StringConstraints(pattern=f"^{EVENT_ID_PATTERN}$")]


class Envelope(Strict):
    """The common envelope; each document type's event adds `type` (its name) and its payload."""

    event_id: EventId = Field(description="Idempotency key: the same id is processed once.")
    schema_version: Literal[1] = SCHEMA_VERSION
    occurred_at: AwareDatetime
    dossier: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9./-]{1,40}$")]
    recipient: Recipient
    issue_date: date | None = Field(
        None,
        description="The letter's date; when absent, the batch's issue date or today (Brussels).",
    )
    type: str
    payload: Strict
