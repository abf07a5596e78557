"""Templates and event data fail safe: no file is read, no address reached, no code run.

tests/compose/test_fail_closed.py covers the classic payloads; these add what it lacks.
"""

from __future__ import annotations

import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from markupsafe import escape

from comms.compose import Composer
from comms.compose.check import Kind, static_problems
from comms.errors import RenderRefused
from comms.events import parse_event
from comms.samples import load_sample
from tests.compose.conftest import LAYOUT
from tests.readback import pdf_text
from tests.templates_tools.conftest import ISSUED, edit

SECRET = "TOPSECRET-7f3a"  # written outside the templates; must never reach a PDF


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "secret.txt"
    path.write_text(SECRET, encoding="utf-8")
    return path


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A web server on loopback that records every request it gets."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "text/css")
            self.end_headers()
            self.wfile.write(b"p { color: red }")

        def log_message(self, *args: object) -> None:
            return None

    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", hits
    finally:
        server.shutdown()


FETCHES = {
    "css @import of a file": '<style>@import url("file://{secret}");</style>',
    "css @import from the network": '<style>@import url("{url}/a.css");</style>',
    "css url() background": '<p style="background: url({url}/bg.png)">x</p>',
    "@font-face from the network": (
        "<style>@font-face {{ font-family: X; src: url({url}/f.ttf); }} p {{ font-family: X }}</style>"
    ),
    "link stylesheet from the network": '<link rel="stylesheet" href="{url}/l.css">',
    "link stylesheet from a file": '<link rel="stylesheet" href="file://{secret}">',
    "link attachment from a file": '<link rel="attachment" href="file://{secret}">',
    "a attachment from the network": '<a rel="attachment" href="{url}/att.bin">a</a>',
    "iframe of a file": '<iframe src="file://{secret}"></iframe>',
    "object of a file": '<object data="file://{secret}" type="text/plain"></object>',
    "object from the network": '<object data="{url}/o.svg" type="image/svg+xml"></object>',
    "embed from the network": '<embed src="{url}/e.svg" type="image/svg+xml">',
    "inline svg image from the network": (
        '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        'width="10" height="10"><image xlink:href="{url}/s.png" width="10" height="10"/></svg>'
    ),
    "inline svg use of a file": (
        '<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        '<use href="file://{secret}#x"/></svg>'
    ),
    "svg data URI with an external image": (
        '<img src="data:image/svg+xml;utf8,<svg xmlns=&quot;http://www.w3.org/2000/svg&quot; '
        "xmlns:xlink=&quot;http://www.w3.org/1999/xlink&quot;><image "
        'xlink:href=&quot;{url}/inner.png&quot; width=&quot;9&quot; height=&quot;9&quot;/></svg>">'
    ),
    "relative path out of the assets": '<img src="../nl/fund.toml">',
    "relative path out of the templates": '<img src="fonts/../../../../../..{secret}">',
    "file://localhost": '<img src="file://localhost{secret}">',
    "base href elsewhere": '<base href="{url}/"><img src="x.png">',
}


@pytest.mark.parametrize("name", list(FETCHES))
def test_weasyprint_reads_no_file_and_reaches_no_address(
    templates_copy: Path, secret_file: Path, listener: tuple[str, list[str]], name: str
) -> None:
    """Each attempt is refused, or the letter is made without the resource: never fetched."""
    url, hits = listener
    snippet = FETCHES[name].format(url=url, secret=secret_file)
    edit(
        templates_copy / "nl" / "tax_certificate" / "letter.html",
        "{% block body %}",
        "{% block body %}" + snippet,
    )
    composer = Composer(templates_copy, LAYOUT)
    event = parse_event(load_sample("tax-certificate-nl"))
    try:
        message = composer.compose(event, issued_on=ISSUED)
    except RenderRefused as exc:
        assert "outside its own assets" in exc.reason
    else:
        assert SECRET.encode() not in message.document.pdf
        assert SECRET not in pdf_text(message.document.pdf)
    assert hits == []


def test_a_link_inside_the_assets_to_a_file_outside_is_refused(
    templates_copy: Path, secret_file: Path
) -> None:
    os.symlink(secret_file, templates_copy / "shared" / "logo.png")
    edit(
        templates_copy / "nl" / "tax_certificate" / "letter.html",
        "{% block body %}",
        '{% block body %}<img src="logo.png">',
    )
    with pytest.raises(RenderRefused, match="outside its own assets"):
        Composer(templates_copy, LAYOUT).compose(
            parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED
        )
    assert any(p.kind is Kind.FILES and "link" in p.what for p in static_problems(templates_copy))


MORE_INJECTIONS = [
    "{{ data|attr('__class__') }}",
    "{{ '{0.__class__}'.format(data) }}",
    "{{ '%s'|format(data.__class__) }}",
    "{% include '/etc/passwd' %}",
    "{% include '../../../../etc/passwd' %}",
    "{% import '/etc/passwd' as x %}",
    "{% extends '/etc/passwd' %}",
    "{{ fund.__class__ }}",
    "{{ self.__dict__ }}",
    "{% set ns = namespace() %}{{ ns.__init__.__globals__ }}",
    "{{ joiner().__init__.__globals__ }}",
    "{{ (1).__class__.__base__.__subclasses__() }}",
    "{{ data.pop('year') }}",
    "{{ data.__getattribute__('year') }}",
    "{{ payment_qr.__class__.__mro__ }}",
    "{{ config }}",
    "{{ request }}",
    "{% macro m() %}{{ caller.__globals__ }}{% endmacro %}{% call m() %}{% endcall %}",
]


@pytest.mark.parametrize("payload", MORE_INJECTIONS)
def test_more_template_injections_are_refused(templates_copy: Path, payload: str) -> None:
    edit(
        templates_copy / "nl" / "tax_certificate" / "letter.html",
        "{% block body %}",
        "{% block body %}" + payload,
    )
    with pytest.raises(RenderRefused):
        Composer(templates_copy, LAYOUT).compose(
            parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED
        )


def test_a_range_too_large_never_gives_a_letter(templates_copy: Path) -> None:
    """The sandbox stops it and the composer refuses the letter, naming the template."""
    edit(
        templates_copy / "nl" / "tax_certificate" / "letter.html",
        "{% block body %}",
        "{% block body %}{{ range(10 ** 8) | length }}",
    )
    with pytest.raises(RenderRefused, match="OverflowError"):
        Composer(templates_copy, LAYOUT).compose(
            parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED
        )


TEXT_IN_DATA = [
    "{{7*7}}",
    "{% include '/etc/passwd' %}",
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "{{ ''.__class__ }}",
    '"><iframe src="file:///etc/passwd">',
]


@pytest.mark.parametrize("text", TEXT_IN_DATA)
def test_jinja_and_html_in_free_text_reach_every_output_as_plain_text(
    text: str, templates_copy: Path
) -> None:
    """A decision's subject and reasons are upstream's free text: printed, never interpreted."""
    raw = load_sample("decision-nl")
    raw["payload"]["subject"] = f"Onderwerp {text}"
    raw["payload"]["reasons_in_fact"] = [f"Reden {text}"]
    composer = Composer(templates_copy, LAYOUT)
    message = composer.compose(parse_event(raw), issued_on=ISSUED)
    rendered = composer.render_texts(parse_event(raw), issued_on=ISSUED)
    assert f"Reden {text}" in " ".join(pdf_text(message.document.pdf).split())
    assert message.ebox_subject.endswith(f"Onderwerp {text}")  # plain text stays as written
    assert str(escape(f"Reden {text}")) in rendered.letter_html
    if "<" in text:
        assert text not in rendered.letter_html and text not in rendered.email_html
