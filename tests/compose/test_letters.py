"""Every type in both languages: the PDF read back holds what the member must read, in their locale."""

from __future__ import annotations

import io
from decimal import Decimal

import pikepdf
import pypdfium2
import pytest
from babel.dates import format_date

from comms.doctypes import DOC_TYPES
from comms.doctypes.decision import Decision
from comms.events import AnyEvent, CompanyRecipient, parse_event
from comms.identifiers import format_iban
from comms.payment import epc_payload, format_structured_communication
from comms.samples import all_samples
from tests.compose.conftest import ISSUED, SAMPLE_READERS, SampleLetters
from tests.readback import money, no_qr_code, pdf_text, plain, qr_codes

SAMPLES = sorted(all_samples(ISSUED).items())  # the story as upstream sends it on ISSUED
pytestmark = SAMPLE_READERS


@pytest.fixture(scope="module")
def rendered(sample_letters: SampleLetters) -> dict[str, tuple[AnyEvent, bytes, str]]:
    out = {}
    for name, _ in SAMPLES:
        event, message = sample_letters[name]
        out[name] = (event, message.document.pdf, plain(pdf_text(message.document.pdf)))
    return out


@pytest.mark.parametrize("name", [n for n, _ in SAMPLES])
def test_letter_names_the_recipient_and_is_dated_in_its_locale(rendered, name: str) -> None:
    event, pdf, text = rendered[name]
    lang = event.recipient.language.value
    assert event.recipient.name in text
    assert event.recipient.address.municipality in text
    assert format_date(ISSUED, "long", locale=f"{lang}_BE") in text
    assert DOC_TYPES[event.type].reference(event) in text  # the one number to quote (issue 16 §6)
    if isinstance(event.recipient, CompanyRecipient):
        assert "0852.093.431" in text or "0474.028.805" in text
    else:
        assert event.recipient.national_number[:2] + "." in text
    pages = len(pypdfium2.PdfDocument(pdf))
    for page in range(1, pages + 1):
        assert (
            f"Pagina {page} van {pages}" if lang == "nl" else f"Page {page} sur {pages}"
        ) in text


# Every letter with a payment block: one, or one per debt (reminders, formal notices: domain §2).
PAYABLE = [n for n, raw in SAMPLES if DOC_TYPES[raw["type"]].payables(parse_event(raw))]


@pytest.mark.parametrize("name", PAYABLE)
def test_payable_letters_carry_amount_due_date_iban_and_structured_communication(
    rendered, name: str
) -> None:
    event, _, text = rendered[name]
    lang = event.recipient.language.value
    for payable in DOC_TYPES[event.type].payables(event):
        assert money(payable.amount, lang) in text
        assert format_date(payable.due_date, "long", locale=f"{lang}_BE") in text
        assert format_iban(payable.payment.iban) in text
        assert format_structured_communication(payable.payment.structured_communication) in text


@pytest.mark.parametrize("name", PAYABLE)
def test_the_qr_code_decodes_to_the_notices_iban_amount_and_reference(rendered, name: str) -> None:
    event, pdf, _ = rendered[name]
    payables = DOC_TYPES[event.type].payables(event)
    found = qr_codes(pdf)
    assert len(found) == len(payables)  # one code per payment block, each for its own debt
    for code in found:
        lines = code.split("\n")
        assert lines[0] == "BCD" and lines[3] == "SCT"
    # What a banking app fills in, read field by field (EPC069-12), not only as the payload made it.
    fields = [code.split("\n") for code in found]
    assert sorted((f[6], Decimal(f[7].removeprefix("EUR")), f[9]) for f in fields) == sorted(
        (p.payment.iban, p.amount, p.payment.structured_communication) for p in payables
    )
    assert sorted(found) == sorted(
        epc_payload(
            beneficiary=payable.payment.beneficiary,
            iban=payable.payment.iban,
            bic=payable.payment.bic,
            amount=payable.amount,
            reference=payable.payment.structured_communication,
        )
        for payable in payables
    )


@pytest.mark.parametrize("name", [n for n, _ in SAMPLES if n.startswith("decision")])
def test_decisions_state_reasons_and_every_appeal_mention(rendered, name: str) -> None:
    event, _, text = rendered[name]
    d = event.payload
    assert isinstance(d, Decision)
    for reason in [*d.reasons_in_fact, *d.reasons_in_law, *d.legal_basis]:
        assert plain(reason) in text
    appeal = d.appeal
    assert appeal.court.name in text
    assert appeal.court.address.street in text and appeal.court.address.postcode in text
    assert appeal.file_reference in text
    assert appeal.handling_service in text
    assert appeal.explanations.phone in text
    assert "728" in text and "1017" in text
    assert (
        str(appeal.deadline_months) in text
        or ("drie" in text if d.appeal.deadline_months == 3 else False)
        or "trois" in text
    )
    if d.recovery is not None:
        lang = event.recipient.language.value
        assert money(d.recovery.total, lang) in text
        for line in d.recovery.calculation:
            assert line.label in text
        assert str(d.recovery.prescription_years) in text


@pytest.mark.parametrize(
    ("name", "due", "amount"),
    [
        ("decision-recovery-nl", "4 maart 2027", "€ 1.500,00"),
        ("decision-recovery-fr", "4 mars 2027", "1 500,00 €"),
    ],
)
def test_a_recovery_decision_tells_how_and_by_when_to_repay(
    rendered, name: str, due: str, amount: str
) -> None:
    """What the member needs to repay, as printed: account, BIC, structured communication, date."""
    _, pdf, text = rendered[name]
    assert "BE68 5390 0754 7034" in text and "GKCCBEBB" in text
    assert ("+++202/7904/21195+++" if name.endswith("nl") else "+++202/7904/21296+++") in text
    assert due in text and amount in text
    if name.endswith("nl"):
        assert "Gestructureerde mededeling" in text and "uiterlijk op 4 maart 2027" in text
    else:
        assert "Communication structurée" in text and "au plus tard le 4 mars 2027" in text
    [epc] = qr_codes(pdf)
    lines = epc.split("\n")
    assert lines[0] == "BCD" and lines[3] == "SCT" and lines[4] == "GKCCBEBB"
    assert lines[6] == "BE68539007547034"
    assert Decimal(lines[7].removeprefix("EUR")) == Decimal("1500.00")
    assert lines[9] == (
        "202790421195" if name.endswith("nl") else "202790421296"
    )  # line 10: the OGM


def test_a_refusal_has_nothing_to_pay(rendered) -> None:
    for name in ("decision-nl", "decision-fr"):
        event, pdf, text = rendered[name]
        assert DOC_TYPES["decision"].payable(event) is None
        assert no_qr_code(pdf) and "+++" not in text


def test_dutch_and_french_amounts_differ_as_their_locales_write_them(rendered) -> None:
    _, _, nl = rendered["contribution-notice-nl"]
    _, _, fr = rendered["contribution-notice-fr"]
    assert "€ 3.089,91" in nl
    assert "3 089,91 €" in fr
    assert "31 maart 2027" in nl and "31 mars 2027" in fr


def test_formal_notice_is_registered_and_names_the_contact_person(rendered) -> None:
    for name in ("formal-notice-nl", "formal-notice-fr"):
        event, _, text = rendered[name]
        assert event.payload.contact.name in text  # type: ignore[union-attr]
        assert event.payload.contact.phone in text  # type: ignore[union-attr]
        assert (
            ("Aangetekend" in text)
            if name.endswith("nl")
            else ("Recommandé" in text or "RECOMMANDÉ" in text)
        )


def test_pdf_is_pdf_a_with_embedded_fonts(rendered) -> None:
    _, pdf, _ = rendered["decision-fr"]
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        xmp = doc.open_metadata()
        # Level A: PDF/A-3 with a structure tree (issue 16 §8); B was the level before.
        assert xmp.get("pdfaid:part") == "3" and xmp.get("pdfaid:conformance") == "A"
        fonts = {}
        for page in doc.pages:
            for font in page.Resources.Font.values():
                descendants = font.get("/DescendantFonts")
                descriptor = (descendants[0] if descendants else font).FontDescriptor
                fonts[str(font.BaseFont)] = any(
                    k in descriptor for k in ("/FontFile", "/FontFile2", "/FontFile3")
                )
    assert fonts and all(fonts.values()), fonts
