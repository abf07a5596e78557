"""The studio's pages over HTTP: who may see them, what they show, and pasted events kept as data."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from comms.api import create_api
from comms.api.auth import token_digest
from comms.app import build_app
from comms.doctypes import DOC_TYPES
from comms.samples import all_samples, load_sample
from comms.settings import ApiUser, Settings
from tests.fakes import StubPdf
from tests.templates_tools.conftest import edit, line_of

AN = {"Authorization": "Bearer an-token"}
BART = {"Authorization": "Bearer bart-token"}
CARLA = {"Authorization": "Bearer carla-token"}  # compliance, not staff


def studio_settings(settings: Settings, templates: Path) -> Settings:
    users = [
        ApiUser(name="An", roles=["staff"], token_sha256=token_digest("an-token")),
        ApiUser(name="Bart", roles=["staff"], token_sha256=token_digest("bart-token")),
        ApiUser(name="Carla", roles=["compliance"], token_sha256=token_digest("carla-token")),
    ]
    return settings.model_copy(update={"api_users": users, "templates_dir": templates})


@pytest.fixture
def client(settings: Settings, templates_copy: Path) -> TestClient:
    return TestClient(create_api(build_app(studio_settings(settings, templates_copy))))


def side(page: str, lang: str) -> str:
    """The HTML of one language's column."""
    start = page.index(f'id="side-{lang}"')
    end = page.find('<section class="side"', start + 1)
    return page[start : end if end > 0 else len(page)]


def test_only_signed_in_staff_may_use_the_studio(client: TestClient) -> None:
    anonymous = client.get("/studio/decision?sample=decision", follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/login?next=/studio/decision%3Fsample%3Ddecision"
    assert client.get("/studio", headers=CARLA).status_code == 403
    assert client.post("/studio/preview", data={"event": "{}"}).status_code == 401
    assert client.post("/studio/preview", headers=CARLA, data={"event": "{}"}).status_code == 403
    client.post("/login", data={"token": "an-token"})
    assert client.get("/studio").status_code == 200  # the login cookie works too


def test_the_index_lists_every_type_in_both_languages_under_a_strict_policy(
    client: TestClient,
) -> None:
    page = client.get("/studio", headers=AN)
    assert page.status_code == 200
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy
    for doc_type in DOC_TYPES:
        assert f'href="/studio/{doc_type}"' in page.text
    assert page.text.count("never published") == 2 * len(DOC_TYPES)
    assert 'id="no-problems"' in page.text


def test_a_type_shows_dutch_and_french_side_by_side(client: TestClient) -> None:
    page = client.get("/studio/decision", headers=AN).text
    nl, fr = side(page, "nl"), side(page, "fr")
    assert "Beslissing: " in nl and "Décision : " in fr  # each column its own language
    assert "Vermindering" in nl and "Réduction" in fr  # and its own sample's text
    for column in (nl, fr):
        assert column.count('src="data:image/png;base64,') == 2  # two pages of PDF
        assert re.search(r'<iframe [^>]*sandbox srcdoc="[^"]*&lt;p&gt;', column)
        assert '<pre class="email-text">' in column
    assert '<option value="decision-recovery"' in page


def test_a_sample_is_picked_by_name(client: TestClient) -> None:
    page = client.get("/studio/decision?sample=decision-recovery", headers=AN).text
    assert "(sample: decision-recovery)" in page
    assert "Terugvordering" in side(page, "nl")


def test_a_pasted_event_is_data_never_a_template(client: TestClient) -> None:
    raw = load_sample("decision-fr")
    raw["payload"]["subject"] = "<b>{{7*7}}</b> {% include '/etc/passwd' %}"
    page = client.post("/studio/preview", headers=AN, data={"event": json.dumps(raw)})
    assert page.status_code == 200 and "(pasted event)" in page.text
    assert "<b>{{7*7}}" not in page.text and "root:x:" not in page.text
    shown = "&lt;b&gt;{{7*7}}&lt;/b&gt; {% include &#39;/etc/passwd&#39; %}"
    for lang in ("nl", "fr"):  # the same event, in both languages
        column = side(page.text, lang)
        assert '<p class="ebox-subject">' in column and shown in column
        assert column.count('src="data:image/png;base64,') == 2


def test_a_pasted_event_that_is_not_valid_says_why_in_plain_words(client: TestClient) -> None:
    broken = client.post("/studio/preview", headers=AN, data={"event": '{"type": '})
    assert broken.status_code == 422 and "This is not valid JSON" in broken.text
    raw = load_sample("decision-nl")
    del raw["payload"]["reasons_in_fact"]
    invalid = client.post("/studio/preview", headers=AN, data={"event": json.dumps(raw)})
    assert invalid.status_code == 422 and "payload.reasons_in_fact: Field required" in invalid.text
    listed = client.post("/studio/preview", headers=AN, data={"event": "[1, 2]"})
    assert listed.status_code == 422 and "An event is a JSON object" in listed.text
    huge = client.post("/studio/preview", headers=AN, data={"event": " " * 200_001})
    assert huge.status_code == 413


def test_forms_from_another_site_are_refused(client: TestClient) -> None:
    """A signed-in browser's cookie goes with a form another site makes it post; the form's CSRF
    token does not, so the studio refuses it (and takes the same form from its own page)."""
    signed_in = client.post("/login", data={"token": "an-token", "next": "/studio"})
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', signed_in.text)
    assert csrf is not None
    foreign = client.post("/studio/preview", data={"event": "{}"})
    assert foreign.status_code == 403
    own = client.post("/studio/preview", data={"event": "{}", "csrf_token": csrf.group(1)})
    assert own.status_code == 422  # past the CSRF check: the event itself is incomplete


def test_check_problems_show_inline_with_where_what_and_what_to_do(
    client: TestClient, templates_copy: Path
) -> None:
    letter = templates_copy / "fr" / "decision" / "letter.html"
    edit(letter, "{{ data.outcome }}", "{{ data.resultat }}")
    page = client.get("/studio/decision", headers=AN).text
    where = f"fr/decision/letter.html, line {line_of(letter, 'data.resultat')}"
    assert where in page and "`data.resultat` does not exist" in page and "What to do:" in page
    fr = side(page, "fr")
    assert "would be refused" in fr and 'src="data:image/png' not in fr
    assert 'src="data:image/png' in side(page, "nl")  # the other language still shows
    index = client.get("/studio", headers=AN).text
    assert 'id="no-problems"' not in index and where in index


def test_the_change_token_moves_when_a_file_is_saved(
    client: TestClient, templates_copy: Path
) -> None:
    before = client.get("/studio/changes", headers=AN).json()["token"]
    edit(templates_copy / "nl" / "decision" / "subject.txt", "Beslissing", "Besluit")
    after = client.get("/studio/changes", headers=AN).json()["token"]
    assert before != after


def test_publication_and_approval_under_the_signed_in_names(
    settings: Settings, templates_copy: Path
) -> None:
    """Publishing checks every sample; their PDFs come from a stub here (real: test_check)."""
    pdf = StubPdf()
    app = build_app(studio_settings(settings, templates_copy), pdf=pdf)
    client = TestClient(create_api(app))
    asked = client.post(
        "/studio/publish", headers=AN, data={"note": "nieuw"}, follow_redirects=False
    )
    assert asked.status_code == 303
    url = asked.headers["location"]
    mine = client.get(url, headers=AN).text
    assert "a second person must approve" in mine and 'value="approve"' not in mine
    refused = client.post(url, headers=AN, data={"decision": "approve"})
    assert refused.status_code == 409 and "second person" in refused.text
    page = client.get(url, headers=BART).text
    assert 'value="approve"' in page and "nieuw" in page and "(first version)" in page
    assert f"passed: {2 * len(all_samples())} letters rendered" in page
    assert pdf.made == 2 * len(all_samples())
    done = client.post(url, headers=BART, data={"decision": "approve"})
    assert done.status_code == 200 and "approved by Bart" in done.text
    index = client.get("/studio", headers=AN).text
    assert "never published" not in index and "(same)" in index
    again = client.post("/studio/publish", headers=AN, data={"note": ""})
    assert "Nothing to publish" in again.text


def test_without_pypdfium2_the_texts_still_show_and_the_page_says_why(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "pypdfium2", None)  # as on a server without the test extras
    page = client.get("/studio/tax_certificate", headers=AN).text
    assert "pypdfium2 is not installed" in page
    assert '<p class="ebox-subject">' in side(page, "nl") and "data:image/png" not in page
