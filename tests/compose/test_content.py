"""What a member needs to read in the letter (issue 16 §6), read back from the PDF."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pytest

from comms.compose import Composer
from comms.events import parse_event
from comms.samples import all_samples
from tests.compose.conftest import SAMPLE_READERS, SampleLetters
from tests.readback import pdf_text, plain

ISSUED = date(2027, 1, 4)
SAMPLES = sorted(all_samples(ISSUED))


def sample(name: str) -> dict[str, Any]:
    """The sample as it reads on ISSUED, to change before rendering."""
    return copy.deepcopy(dict(all_samples(ISSUED)[name]))


def text_of(composer: Composer, raw: dict[str, Any]) -> str:
    return plain(pdf_text(composer.compose(parse_event(raw), issued_on=ISSUED).document.pdf))


@pytest.mark.parametrize(
    ("lang", "words"), [("nl", "aanslagjaar"), ("fr", "exercice d'imposition")]
)
def test_the_tax_certificate_names_the_assessment_year_after_the_income_year(
    composer: Composer, lang: str, words: str
) -> None:
    raw = sample(f"tax-certificate-{lang}")
    text = text_of(composer, raw)
    assert f"{words} {raw['payload']['year'] + 1}" in text


PRIVACY_AND_COMPLAINTS = {
    "nl": ("persoonsgegevens", "klachtendienst", "Federale Ombudsman", "Leuvenseweg 48"),
    "fr": (
        "données personnelles",
        "service des plaintes",
        "Médiateur fédéral",
        "Rue de Louvain 48",
    ),
}


@SAMPLE_READERS
@pytest.mark.parametrize("name", SAMPLES)
def test_every_letter_says_how_personal_data_is_used_and_where_to_complain(
    sample_letters: SampleLetters, name: str
) -> None:
    event, message = sample_letters[name]  # the letters the other readers read: rendered once
    text = plain(pdf_text(message.document.pdf))
    for words in PRIVACY_AND_COMPLAINTS[event.recipient.language.value]:
        assert words in text


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_a_decision_gives_the_member_one_reference_to_quote(composer: Composer, lang: str) -> None:
    raw = sample(f"decision-recovery-{lang}")
    text = text_of(composer, raw)
    reference = raw["payload"]["appeal"]["file_reference"]
    assert reference in text
    assert raw["dossier"] not in text, "a second number the member could quote instead"


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_a_recovery_says_whether_an_appeal_suspends_it_and_the_prescription_in_case_of_fraud(
    composer: Composer, lang: str
) -> None:
    raw = sample(f"decision-recovery-{lang}")
    text = text_of(composer, raw)
    if lang == "nl":
        assert "schorst" in text and "gedwongen" in text
        assert "3 jaar" in text and "5 jaar" in text and "bedrieglijke handelingen" in text
    else:
        assert "suspend" in text and "recouvrement forcé" in text
        assert "3 ans" in text and "5 ans" in text and "manœuvres frauduleuses" in text


@pytest.mark.parametrize("lang", ["nl", "fr"])
def test_the_company_contribution_states_its_tier_threshold_basis_and_directors_liability(
    composer: Composer, lang: str
) -> None:
    raw = sample(f"company-contribution-notice-{lang}")
    text = text_of(composer, raw)
    threshold = {"nl": "€ 700.000,00", "fr": "700 000,00 €"}[lang]
    assert threshold in text
    if lang == "nl":
        assert "wet van 26 juni 1992" in text and "hoofdelijk aansprakelijk" in text
        assert "bestuurders" in text
    else:
        assert "loi du 26 juin 1992" in text and "solidairement responsables" in text
        assert "administrateurs" in text or "gérants" in text


def test_the_french_payment_box_explains_the_dutch_account_holder(composer: Composer) -> None:
    raw = sample("contribution-notice-fr")
    assert raw["payload"]["payment"]["beneficiary"] == "Sociaal Verzekeringsfonds Voorbeeld vzw"
    text = text_of(composer, raw)
    assert "Sociaal Verzekeringsfonds Voorbeeld vzw" in text
    assert "nom officiel" in text and "titulaire du compte" in text.lower()
