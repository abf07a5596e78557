"""Tagged letters (issue 16 §8): a screen reader gets the letter in the order a person reads it."""

from __future__ import annotations

import io
from datetime import date

import pikepdf
import pytest

from comms.compose import Composer
from comms.events import parse_event
from comms.samples import all_samples
from tests.readback import reading_order, struct_elements

ISSUED = date(2027, 1, 4)
# What a sighted reader meets first to last, in each language's words.
PAYMENT_HEADING = {"nl": "Zo betaalt u", "fr": "Comment payer"}
APPEAL_HEADING = {
    "nl": "Bent u het niet eens met deze beslissing?",
    "fr": "Vous n'êtes pas d'accord avec cette décision ?",
}
GREETING = {"nl": "Geachte mevrouw, geachte heer,", "fr": "Madame, Monsieur,"}
CLOSING = {"nl": "Met vriendelijke groeten", "fr": "Veuillez agréer"}
DATE = {"nl": "4 januari 2027", "fr": "4 janvier 2027"}
OMBUDSMAN = {"nl": "Federale Ombudsman", "fr": "Médiateur fédéral"}  # in the footer


def letter(composer: Composer, name: str) -> tuple[str, str, bytes]:
    event = parse_event(dict(all_samples(ISSUED)[name]))
    message = composer.compose(event, issued_on=ISSUED)
    return event.recipient.language.value, event.recipient.name, message.document.pdf


@pytest.mark.parametrize(
    "name",
    ["decision-recovery-nl", "decision-recovery-fr", "formal-notice-fr", "contribution-notice-nl"],
)
def test_a_screen_reader_meets_sender_address_references_subject_body_payment_appeal(
    composer: Composer, name: str
) -> None:
    lang, recipient, pdf = letter(composer, name)
    text = reading_order(pdf)
    fund = "Sociaal Verzekeringsfonds Voorbeeld vzw" if lang == "nl" else "Caisse d'assurances"
    order = [fund, recipient, DATE[lang], GREETING[lang], PAYMENT_HEADING[lang]]
    if name.startswith("decision"):
        order.append(APPEAL_HEADING[lang])
    order += [CLOSING[lang], OMBUDSMAN[lang]]
    positions = [text.find(part) for part in order]
    assert -1 not in positions, dict(zip(order, positions, strict=True))
    assert positions == sorted(positions), dict(zip(order, positions, strict=True))
    assert text.count(OMBUDSMAN[lang]) == 1, "the footer of every page is read, not once at the end"


def test_headings_are_headings_tables_have_header_cells_and_the_qr_code_is_described(
    composer: Composer,
) -> None:
    _, _, pdf = letter(composer, "decision-recovery-nl")
    tags = struct_elements(pdf)
    kinds = [t.kind for t in tags]
    assert kinds.count("H1") == 1
    assert kinds.count("H2") >= 4
    cells = [t for t in tags if t.kind == "TD"]
    assert cells and all(t.headers for t in cells), "a data cell without its header cell"
    figures = [t for t in tags if t.kind == "Figure"]
    assert len(figures) == 1
    assert "QR-code" in figures[0].alt and "1.500,00" in figures[0].alt


@pytest.mark.parametrize("name", ["tax-certificate-nl", "formal-notice-fr"])
def test_the_letter_is_archival_and_accessible_in_one_file(composer: Composer, name: str) -> None:
    lang, _, pdf = letter(composer, name)
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        meta = doc.open_metadata()
        assert meta["pdfaid:part"] == "3" and meta["pdfaid:conformance"] == "A"
        assert meta["pdfuaid:part"] == "1"
        assert str(doc.Root.Lang) == f"{lang}-BE"
        assert doc.Root.MarkInfo.Marked is True
        assert doc.Root.ViewerPreferences.DisplayDocTitle is True
        assert all(page.get("/Tabs") == "/S" for page in doc.pages)
