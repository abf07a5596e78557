"""The letter's layout read back from the PDF (issue 16 §7): the window, page breaks, no-break spaces."""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

import pytest

from comms.compose import Composer
from comms.compose.pdf import PAGE_MARGIN_BOTTOM_MM
from comms.errors import RenderRefused
from comms.events import parse_event
from comms.samples import all_samples
from tests.compose.conftest import ISSUED, LAYOUT, SAMPLE_READERS, SampleLetters
from tests.readback import Line, raw_text, text_lines

RETURN_ADDRESS = {
    "nl": "SVF Voorbeeld, Wetstraat 100, 1000 Brussel",
    "fr": "CAS Exemple, Rue de la Loi 100, 1000 Bruxelles",
}


# The samples are dated 4 January, as the letters of the other sample tests: January reminders carry
# the 7 % line, the longest of the year. Dated from the run day, the reminder's payment box left
# 52 mm blank on page 1 from 1 January on; every month of 2027 was checked when it was mended, and
# the payment box is checked in July too.
def sample(name: str) -> dict[str, Any]:
    return copy.deepcopy(dict(all_samples(ISSUED)[name]))


def lines_of(composer: Composer, raw: dict[str, Any]) -> list[Line]:
    return text_lines(composer.compose(parse_event(raw), issued_on=ISSUED).document.pdf)


def in_window(line: Line) -> bool:
    return (
        line.page == 1
        and LAYOUT.left_mm - 1 <= line.left_mm < LAYOUT.left_mm + LAYOUT.width_mm
        and LAYOUT.top_mm - 1 <= line.top_mm
        and line.bottom_mm <= LAYOUT.top_mm + LAYOUT.height_mm + 1
    )


def test_a_name_too_long_for_the_window_is_refused_not_wrapped(composer: Composer) -> None:
    raw = sample("contribution-notice-nl")
    name = "Vennootschap voor Algemene Bouwwerken en Aannemingen NV"  # 55 characters
    raw["recipient"]["name"] = name
    with pytest.raises(RenderRefused) as refused:
        composer.compose(parse_event(raw), issued_on=ISSUED)
    assert "address line 2 of the window" in refused.value.reason  # line 1 is the return address
    assert "envelope window 90.0 mm" in refused.value.reason
    assert name not in str(refused.value) and "Vennootschap" not in str(refused.value)


def test_an_address_that_fits_stands_in_the_window_one_line_per_bpost_line(
    composer: Composer,
) -> None:
    raw = sample("contribution-notice-fr")
    raw["recipient"]["name"] = "Marie-Christine Vandenbroucke-Delvaux"
    raw["recipient"]["address"].update(street="Avenue du Général de Gaulle", number="123", box="45")
    window = [line.text for line in lines_of(composer, raw) if in_window(line)]
    assert window == [
        RETURN_ADDRESS["fr"],
        "Marie-Christine Vandenbroucke-Delvaux",
        "Avenue du Général de Gaulle 123 boîte 45",
        f"{raw['recipient']['address']['postcode']} {raw['recipient']['address']['municipality']}",
    ]


@pytest.mark.parametrize("name", ["payment-reminder-nl", "formal-notice-fr"])
def test_the_return_address_tops_the_window_and_a_registered_letter_keeps_room_for_its_label(
    composer: Composer, name: str
) -> None:
    raw = sample(name)
    lang = raw["recipient"]["language"]
    window = [line for line in lines_of(composer, raw) if in_window(line)]
    assert window[0].text == RETURN_ADDRESS[lang]
    assert window[1].text == raw["recipient"]["name"]
    gap_mm = window[1].top_mm - window[0].bottom_mm
    if name.startswith("formal-notice"):  # registered: bpost's R label goes in between
        assert gap_mm >= LAYOUT.registered_label_mm
    else:
        assert gap_mm < 4


SPACE_OR_BREAK = r"[ \r\n]+"  # a plain space, or the end of a line: either may break


@SAMPLE_READERS
@pytest.mark.parametrize("name", sorted(all_samples()))
def test_no_line_breaks_inside_a_number_and_its_unit_or_a_postcode_and_its_town(
    sample_letters: SampleLetters, name: str
) -> None:
    raw = sample(name)
    text = raw_text(sample_letters[name][1].document.pdf)
    assert not re.search(r"\d" + SPACE_OR_BREAK + "%", text), "a percentage may break"
    assert not re.search(r"\d" + SPACE_OR_BREAK + r"(h|uur)\b", text), "a time may break"
    towns = {"nl": "1000 Brussel", "fr": "1000 Bruxelles"}
    places = [towns[raw["recipient"]["language"]]]
    court = raw["payload"].get("appeal", {}).get("court", {}).get("address")
    if court:
        places.append(f"{court['postcode']} {court['municipality']}")
    for place in places:
        postcode, town = place.split(" ", 1)
        assert not re.search(postcode + SPACE_OR_BREAK + town, text), (
            "a postcode and town may break"
        )
        assert f"{postcode}\u00a0{town}" in text


BODY_BOTTOM_MM = 297 - PAGE_MARGIN_BOTTOM_MM  # the bottom margin holds the footer
CLOSING = {"nl": "Met vriendelijke groeten,", "fr": "Veuillez agréer, Madame, Monsieur,"}
PAYMENT_HEADING = {"nl": "Zo betaalt u", "fr": "Comment payer"}


def body_lines(lines: list[Line], page: int) -> list[Line]:
    return [line for line in lines if line.page == page and line.bottom_mm <= BODY_BOTTOM_MM]


@SAMPLE_READERS
@pytest.mark.parametrize("name", sorted(all_samples()))
def test_the_closing_never_stands_on_a_page_of_its_own(
    sample_letters: SampleLetters, name: str
) -> None:
    raw = sample(name)
    lines = text_lines(sample_letters[name][1].document.pdf)
    closing = next(x for x in lines if x.text.startswith(CLOSING[raw["recipient"]["language"]]))
    before = [x for x in body_lines(lines, closing.page) if x.top_mm < closing.top_mm]
    assert len(before) >= 3, f"page {closing.page} holds {len(before)} line(s) before the closing"


SUMMER = date(2027, 7, 5)  # a second season: other quarters, no 7 % line


@SAMPLE_READERS
@pytest.mark.parametrize("name", sorted(all_samples()))
@pytest.mark.parametrize("issued", [ISSUED, SUMMER], ids=["january", "july"])
def test_the_payment_box_is_not_pushed_to_the_next_page_leaving_a_gap(
    composer: Composer, sample_letters: SampleLetters, name: str, issued: date
) -> None:
    if issued == ISSUED:
        raw = sample(name)
        lines = text_lines(sample_letters[name][1].document.pdf)
    else:
        raw = copy.deepcopy(dict(all_samples(issued)[name]))
        lines = text_lines(composer.compose(parse_event(raw), issued_on=issued).document.pdf)
    heading = PAYMENT_HEADING[raw["recipient"]["language"]]
    box = next((x for x in lines if x.text == heading), None)
    if box is None or box.page == 1 or body_lines(lines, box.page)[0] != box:
        return  # nothing to pay, or the box does not open a page
    gap_mm = BODY_BOTTOM_MM - body_lines(lines, box.page - 1)[-1].bottom_mm
    assert gap_mm < 30, f"page {box.page - 1} ends {gap_mm:.0f} mm above its bottom margin"
