"""An email may not make the member's mail client fetch anything from the web (issue 13, finding 7).

A remote image is a tracking pixel: it tells whoever serves it who opened the mail, and when.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from comms.compose import Composer
from comms.compose.check import Kind, static_problems
from comms.errors import RenderRefused
from comms.events import parse_event
from comms.samples import load_sample
from tests.cli.test_commands import comms
from tests.compose.conftest import LAYOUT
from tests.templates_tools.conftest import ISSUED, edit, line_of, run_check

PIXEL = '<img src="http://tracker.example/track.gif?m=85073003328" width="1" height="1">'


@pytest.mark.parametrize(
    "snippet",
    [
        PIXEL,
        '<table background="https://cdn.example/bg.png"><tr><td>x</td></tr></table>',
        '<link rel="stylesheet" href="https://fonts.example/css">',
        "<div style=\"background-image: url('//cdn.example/a.png')\">x</div>",
        "<style>@import 'https://cdn.example/mail.css';</style>",
        '<img srcset="https://cdn.example/a.png 2x" alt="">',
    ],
)
def test_an_email_that_loads_from_the_web_is_found_by_the_check(
    templates_copy: Path, snippet: str
) -> None:
    email = templates_copy / "nl" / "tax_certificate" / "email.html"
    edit(email, "<body>", "<body>\n" + snippet)
    [found] = [p for p in static_problems(templates_copy) if p.kind is Kind.REMOTE]
    assert (found.file, found.line) == ("nl/tax_certificate/email.html", line_of(email, snippet))
    assert "would fetch" in found.what and "85073003328" not in found.what


def test_a_remote_image_built_from_data_is_refused_when_the_email_is_rendered(
    templates_copy: Path,
) -> None:
    email = templates_copy / "fr" / "tax_certificate" / "email.html"
    edit(email, "<body>", '<body>\n<img src="{{ fund.website }}/pixel.gif?d={{ event.dossier }}">')
    fund = templates_copy / "fr" / "fund.toml"
    edit(fund, 'website = "www.fonds.example"', 'website = "https://track.example"')
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(RenderRefused, match=re.escape("the src attribute of <img>")) as refused:
        composer.compose(parse_event(load_sample("tax-certificate-fr")), issued_on=ISSUED)
    assert refused.value.template == "fr/tax_certificate/email.html"
    report = run_check(templates_copy, doc_types=["tax_certificate"])
    assert any(
        p.kind is Kind.REMOTE and p.file == "fr/tax_certificate/email.html" for p in report.problems
    )


def test_a_refused_email_names_the_template_and_the_attribute_never_the_address(
    templates_copy: Path,
) -> None:
    """The refusal goes into the chained ledger row and the webhook: it may name only what the
    fund chose (issue 13); a host built from member data (user-info) must not be quoted."""
    email = templates_copy / "fr" / "tax_certificate" / "email.html"
    edit(
        email,
        "<body>",
        '<body>\n<img src="https://{{ recipient.name | urlencode }}@track.example/p.gif">',
    )
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(RenderRefused) as refused:
        composer.compose(parse_event(load_sample("tax-certificate-fr")), issued_on=ISSUED)
    recorded = str(refused.value)
    assert recorded.startswith("fr/tax_certificate/email.html: ")
    assert "the src attribute of <img>" in recorded
    assert "track.example" not in recorded and "@" not in recorded and "//" not in recorded


def test_links_inline_images_and_the_real_templates_pass(templates_copy: Path) -> None:
    email = templates_copy / "nl" / "tax_certificate" / "email.html"
    edit(
        email,
        "<body>",
        '<body>\n<a href="https://www.fonds.example/contact">contact</a>'
        '<img src="data:image/png;base64,iVBORw0KGgo=" alt=""><img src="cid:logo" alt="">',
    )
    assert not [p for p in static_problems(templates_copy) if p.kind is Kind.REMOTE]
    composer = Composer(templates_copy, LAYOUT)
    composer.compose(parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED)


def test_comms_templates_check_refuses_a_tracking_pixel(
    templates_copy: Path, tmp_path: Path
) -> None:
    edit(templates_copy / "nl" / "tax_certificate" / "email.html", "<body>", "<body>\n" + PIXEL)
    done = comms(
        tmp_path,
        "templates",
        "check",
        "--no-render",
        env={"COMMS_TEMPLATES_DIR": str(templates_copy)},
    )
    assert done.returncode != 0
    assert "nl/tax_certificate/email.html, line 4" in done.stdout + done.stderr
    assert "http://tracker.example/" in done.stdout + done.stderr
    assert "85073003328" not in done.stdout + done.stderr
