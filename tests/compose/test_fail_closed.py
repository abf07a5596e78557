"""A letter that may not go out as it is does not go out: each refusal names the reason and the file."""

from __future__ import annotations

import http.server
import shutil
import threading
from datetime import date
from pathlib import Path

import pytest

from comms.compose import Composer
from comms.errors import MissingMention, MissingTemplate, RenderRefused
from comms.events import parse_event
from comms.samples import load_sample
from tests.compose.conftest import LAYOUT
from tests.readback import pdf_text

ISSUED = date(2027, 1, 4)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def append_to_body(templates: Path, lang: str, doc_type: str, snippet: str) -> None:
    edit(
        templates / lang / doc_type / "letter.html",
        "{% block body %}",
        "{% block body %}" + snippet,
    )


def test_a_missing_french_template_is_refused_and_never_replaced_by_dutch(
    templates_copy: Path,
) -> None:
    shutil.rmtree(templates_copy / "fr" / "tax_certificate")
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(MissingTemplate, match="fr"):
        composer.compose(parse_event(load_sample("tax-certificate-fr")), issued_on=ISSUED)
    composer.compose(parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED)


def test_a_decision_whose_template_lost_an_appeal_mention_is_refused(templates_copy: Path) -> None:
    for path in (templates_copy / "nl").rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        if 'data-mention="art-1017"' in text:
            path.write_text(text.replace('data-mention="art-1017"', ""), encoding="utf-8")
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(MissingMention, match="art-1017"):
        composer.compose(parse_event(load_sample("decision-nl")), issued_on=ISSUED)


def test_a_recovery_decision_whose_letter_lost_the_qr_code_is_refused(templates_copy: Path) -> None:
    edit(
        templates_copy / "fr" / "decision" / "letter.html",
        '{% include "_common/payment.html" %}',
        "",
    )
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(MissingMention, match="payment-qr"):
        composer.compose(parse_event(load_sample("decision-recovery-fr")), issued_on=ISSUED)
    composer.compose(parse_event(load_sample("decision-fr")), issued_on=ISSUED)  # nothing to pay


def test_a_template_using_a_variable_the_event_lacks_is_refused(templates_copy: Path) -> None:
    append_to_body(templates_copy, "nl", "tax_certificate", "{{ data.bonus_amount }}")
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(RenderRefused, match="variable the event does not have"):
        composer.compose(parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED)


@pytest.mark.parametrize(
    "payload",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ data.__class__.__init__.__globals__ }}",
        "{{ self._TemplateReference__context }}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{{ lipsum.__globals__['os'].listdir('/') }}",
        "{{ data.payment.update({'iban': 'x'}) }}",
    ],
)
def test_server_side_template_injection_fails_safely(templates_copy: Path, payload: str) -> None:
    append_to_body(templates_copy, "nl", "tax_certificate", payload)
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(RenderRefused):
        composer.compose(parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED)


def test_a_template_cannot_read_other_files(templates_copy: Path) -> None:
    append_to_body(templates_copy, "nl", "tax_certificate", '<img src="file:///etc/passwd">')
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(RenderRefused, match="outside its own assets"):
        composer.compose(parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED)


def test_a_template_cannot_include_the_other_language(templates_copy: Path) -> None:
    append_to_body(
        templates_copy, "nl", "tax_certificate", '{% include "../fr/_common/closing.html" %}'
    )
    composer = Composer(templates_copy, LAYOUT)
    with pytest.raises(RenderRefused):
        composer.compose(parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED)


def test_a_template_cannot_reach_the_network(templates_copy: Path) -> None:
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/logo.png"
        append_to_body(templates_copy, "nl", "tax_certificate", f'<img src="{url}">')
        composer = Composer(templates_copy, LAYOUT)
        with pytest.raises(RenderRefused):
            composer.compose(parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED)
    finally:
        server.shutdown()
    assert hits == []


def test_html_and_jinja_in_event_data_are_printed_as_text(composer: Composer) -> None:
    raw = load_sample("tax-certificate-nl")
    raw["recipient"]["name"] = "<b>{{7*7}}</b> <img src=x>"
    message = composer.compose(parse_event(raw), issued_on=ISSUED)
    text = pdf_text(message.document.pdf)
    assert "<b>{{7*7}}</b> <img src=x>" in text
    assert "49" not in text.split("{{7*7}}")[0][-5:]
