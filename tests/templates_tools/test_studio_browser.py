"""The studio in headless Chromium (the system's browser driven by Playwright), as staff use it."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from comms.api import create_api
from comms.app import build_app
from comms.samples import load_sample
from comms.settings import REPO_ROOT, load_settings
from tests.net import free_port
from tests.templates_tools.conftest import edit
from tests.templates_tools.test_studio import studio_settings

playwright_sync = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.xdist_group("studio-browser")  # one browser and one server per worker

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
RELOAD_TIMEOUT_MS = 15_000  # the page polls every second; rendering both languages takes ~1 s


@dataclass
class Served:
    """The API on loopback over its own copy of the templates."""

    url: str
    templates: Path


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("studio")
    templates = root / "templates"
    shutil.copytree(REPO_ROOT / "templates", templates)
    settings = studio_settings(load_settings(environment="test", data_dir=root / "var"), templates)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_api(build_app(settings)),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=2,  # the browser may keep a connection open
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the API did not start"
        time.sleep(0.05)
    try:
        yield Served(f"http://127.0.0.1:{port}", templates)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists():
        pytest.fail("Chromium is missing: apt-get install -y chromium (./dev test does it)")
    with playwright_sync.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def console_errors() -> list[str]:
    """What the browser complained about on the studio's pages; a test expecting some clears it."""
    return []


@pytest.fixture
def page(browser, served: Served, console_errors: list[str]) -> Iterator[object]:
    """A signed-in page; unexpected console errors fail the test."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.goto(served.url + "/studio")
    tab.fill("input[name=token]", "an-token")
    tab.click("button[type=submit]")
    tab.wait_for_url("**/studio")
    tab.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: console_errors.append(str(e)))
    yield tab
    context.close()
    assert console_errors == []


def reloaded_after(tab, change) -> None:
    """Makes the change, then waits for the page to reload itself (its script polls)."""
    with tab.expect_navigation(timeout=RELOAD_TIMEOUT_MS):
        change()
    tab.wait_for_load_state("load")


def images_loaded(tab, selector: str) -> int:
    return tab.eval_on_selector_all(
        selector, "imgs => imgs.filter(i => i.complete && i.naturalWidth > 500).length"
    )


def test_a_letter_in_dutch_and_french_side_by_side(page, served: Served) -> None:
    page.click("a[href='/studio/decision']")
    page.wait_for_selector("#side-fr img.page")
    nl, fr = page.locator("#side-nl"), page.locator("#side-fr")
    assert nl.bounding_box()["x"] < fr.bounding_box()["x"]  # side by side, Dutch first
    assert nl.bounding_box()["y"] == fr.bounding_box()["y"]
    assert page.inner_text("#side-nl .ebox-subject").startswith("Beslissing: ")
    assert page.inner_text("#side-fr .ebox-subject").startswith("Décision : ")
    assert images_loaded(page, "#side-nl img.page") == 2
    assert images_loaded(page, "#side-fr img.page") == 2
    email = page.frame_locator("#side-nl iframe.email-html").locator("body")
    assert "Geachte mevrouw, geachte heer" in email.inner_text()
    assert page.get_attribute("#side-fr iframe.email-html", "sandbox") == ""
    page.click("#side-fr details summary")
    assert "Madame, Monsieur" in page.inner_text("#side-fr .email-text")
    assert page.is_visible("#watching")


def test_saving_a_template_reloads_the_page_and_shows_problems_inline(page, served: Served) -> None:
    subject = served.templates / "nl" / "decision" / "ebox_subject.txt"
    letter = served.templates / "nl" / "decision" / "letter.html"
    original_subject = subject.read_text(encoding="utf-8")
    original_letter = letter.read_text(encoding="utf-8")
    try:
        page.goto(served.url + "/studio/decision")
        page.wait_for_selector("#side-nl .ebox-subject")
        reloaded_after(page, lambda: edit(subject, "Beslissing:", "Besluit:"))
        assert page.inner_text("#side-nl .ebox-subject").startswith("Besluit:")
        reloaded_after(page, lambda: edit(letter, "{{ data.outcome }}", "{{ data.uitkomst }}"))
        problems = page.inner_text("#problems")
        assert "nl/decision/letter.html, line" in problems
        assert "`data.uitkomst` does not exist" in problems and "What to do:" in problems
        assert "would be refused" in page.inner_text("#side-nl")
        assert images_loaded(page, "#side-fr img.page") == 2  # French is unaffected
        reloaded_after(page, lambda: letter.write_text(original_letter, encoding="utf-8"))
        assert page.locator("#problems").count() == 0
        assert images_loaded(page, "#side-nl img.page") == 2
    finally:
        subject.write_text(original_subject, encoding="utf-8")
        letter.write_text(original_letter, encoding="utf-8")


def test_a_pasted_event_is_shown_as_text_and_follows_edits(page, served: Served) -> None:
    closing = served.templates / "fr" / "_common" / "closing.html"
    original = closing.read_text(encoding="utf-8")
    raw = load_sample("decision-nl")
    raw["payload"]["subject"] = "<img src=x onerror=alert(1)>{{7*7}}"
    try:
        page.goto(served.url + "/studio/decision")
        page.fill("#paste-form textarea", json.dumps(raw, ensure_ascii=False))
        page.click("#paste-form button[type=submit]")
        page.wait_for_selector("#side-fr img.page")
        assert page.inner_text("h1").endswith("(pasted event)")
        for lang in ("nl", "fr"):
            text = page.inner_text(f"#side-{lang} .ebox-subject")
            assert text.endswith("<img src=x onerror=alert(1)>{{7*7}}")
        assert page.locator("img[src=x]").count() == 0
        before = page.get_attribute("body", "data-token")
        reloaded_after(page, lambda: edit(closing, "<p", "<p data-edited='1'"))
        assert page.get_attribute("body", "data-token") != before
        assert page.inner_text("h1").endswith("(pasted event)")  # the form was sent again
        assert page.inner_text("#side-nl .ebox-subject").endswith("{{7*7}}")
        assert images_loaded(page, "#side-fr img.page") == 2
    finally:
        closing.write_text(original, encoding="utf-8")


def test_the_email_preview_runs_no_script_and_loads_nothing_from_elsewhere(
    page, served: Served, console_errors: list[str]
) -> None:
    email = served.templates / "fr" / "tax_certificate" / "email.html"
    original = email.read_text(encoding="utf-8")
    hits: list[str] = []
    try:
        edit(
            email,
            "<body>",
            "<body><script>parent.document.body.setAttribute('data-pwned', '1');"
            "document.body.setAttribute('data-ran', '1')</script>"
            '<p id="tracker">x</p>',
        )
        page.on("request", lambda r: hits.append(r.url) if "pixel.png" in r.url else None)
        page.goto(served.url + "/studio/tax_certificate")
        page.wait_for_selector("#side-fr iframe.email-html")
        frame = page.frame_locator("#side-fr iframe.email-html")
        frame.locator("#tracker").wait_for(state="attached")
        assert page.get_attribute("body", "data-pwned") is None
        assert frame.locator("body[data-ran]").count() == 0
        assert console_errors  # the browser said what it refused (the script)
        console_errors.clear()
        # A remote image never reaches the preview: the email is refused, and says why.
        email.write_text(
            original.replace("<body>", f'<body><img src="{served.url}/studio/assets/pixel.png">'),
            encoding="utf-8",
        )  # the page reloads itself on save
        page.wait_for_selector("#side-fr .problems.refused")
        assert "would fetch" in page.inner_text("#side-fr .problems.refused")
        assert hits == []
        assert console_errors == []  # the refused email reloaded without a complaint
        # Should an image slip past the check and the escaping, the page's policy still stops it.
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text) as told:
            page.evaluate(
                "url => document.body.appendChild(Object.assign(new Image(), {src: url}))",
                f"{served.url}/studio/assets/pixel.png",
            )
        assert 'Content Security Policy directive: "img-src data:"' in told.value.text
        console_errors.clear()
    finally:
        email.write_text(original, encoding="utf-8")


def test_the_pages_work_without_javascript(browser, served: Served) -> None:
    context = browser.new_context(java_script_enabled=False)
    try:
        tab = context.new_page()
        tab.goto(served.url + "/login?next=/studio/tax_certificate")
        tab.fill("input[name=token]", "bart-token")
        tab.click("button[type=submit]")
        tab.wait_for_url("**/studio/tax_certificate")
        assert images_loaded(tab, "#side-nl img.page") == 1
        assert tab.inner_text("#side-nl .ebox-subject").strip()
        assert not tab.is_visible("#watching")
        tab.select_option("select[name=sample]", index=0)
        tab.click("form.pick button[type=submit]")
        tab.wait_for_selector("#side-fr img.page")
    finally:
        context.close()
