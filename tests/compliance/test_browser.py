"""The compliance page in headless Chromium, JavaScript off: sign in, search, open a history and its PDF."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, Route, sync_playwright

from comms.api import create_api
from comms.ledger import ViewFilters
from tests.compliance.conftest import OFFICER, OFFICER_TOKEN, PERSON, World
from tests.net import free_port

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
START_TIMEOUT_S = 20.0


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[str]:
    """The real API under uvicorn on a loopback port, in a thread of this process."""
    port = free_port()
    config = uvicorn.Config(
        create_api(world.app), host="127.0.0.1", port=port, log_level="info", lifespan="off"
    )
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=START_TIMEOUT_S)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail("/usr/bin/chromium is missing: apt-get install -y chromium (./dev test does)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(java_script_enabled=False)
    yield context.new_page()
    context.close()


def test_find_a_communication_and_open_its_pdf(
    server: str, page: Page, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    """Alice signs in, searches by a member's number, reads a decision's history, opens the PDF."""
    caplog.set_level(logging.INFO, logger="uvicorn.access")

    # Not signed in: the page sends the browser to the sign-in form, and back after it.
    page.goto(f"{server}/compliance")
    assert "/login" in page.url
    page.fill("input[name=token]", OFFICER_TOKEN)
    page.click("button[type=submit]")
    assert page.url == f"{server}/compliance"
    assert f"Signed in as {OFFICER}" in page.inner_text("header")

    # Search: the number is posted, and only its keyed hash reaches the address bar.
    page.fill("input[name=subject]", "85.07.30-033.28")
    page.fill("input[name=doc_type]", "decision")
    page.click("form#search button[type=submit]")
    assert "subject_hmac=" in page.url and PERSON not in page.url
    results = page.inner_text("table.data")
    assert "sample-decision-nl" in results and "sample-decision-fr" not in results

    # One communication's whole history, with its evidence.
    page.click("a:text-is('sample-decision-nl')")
    assert page.url.endswith("/compliance/events/sample-decision-nl")
    history = page.inner_text("#history")
    for state in ("accepted", "rendered", "routed", "dispatched"):
        assert state in history
    assert "wrappings_sha256:" in history  # the rendered row's evidence
    rows = world.app.ledger.history("sample-decision-nl")
    dispatched = next(e for e in reversed(rows) if e.status.value == "dispatched")
    assert dispatched.evidence  # what the channel confirmed, each key shown on the page
    for key in dispatched.evidence:
        assert f"{key}:" in history, key
    expected = world.app.ledger.documents_of("sample-decision-nl")
    pdf_sha = next(sha for sha, kind in expected.items() if kind == "document")
    assert pdf_sha in page.inner_text("#documents")

    # Open the archived PDF: served as a PDF, byte for byte the archived document.
    link = page.locator("a:text-is('Open the letter (PDF)')")
    received: list[tuple[int, dict[str, str], bytes]] = []

    def keep(route: Route) -> None:
        """The bytes exactly as the server sent them (the viewer shows them, not the page)."""
        answer = route.fetch()
        received.append((answer.status, answer.headers, answer.body()))
        route.fulfill(response=answer)

    page.route("**/documents/**", keep)
    with page.expect_response(lambda r: "/documents/" in r.url):
        link.click()
    status, headers, data = received[0]
    assert status == 200 and headers["content-type"] == "application/pdf"
    assert data.startswith(b"%PDF") and hashlib.sha256(data).hexdigest() == pdf_sha
    assert world.app.archive.get(pdf_sha) == data

    # The opening was recorded (who, when) and can itself be found on the page.
    opened = world.app.ledger.views(ViewFilters(document_sha256=pdf_sha, viewer=OFFICER))
    assert opened and opened[0].purpose == "compliance page"
    page.goto(f"{server}/compliance/views?viewer={OFFICER}")
    assert pdf_sha in page.inner_text("#openings")
    page.goto(f"{server}/compliance/events/sample-decision-nl")
    assert OFFICER in page.inner_text("#views")

    # The access log saw addresses, never the member's number.
    logged = " ".join(r.getMessage() for r in caplog.records)
    assert "/compliance/events/sample-decision-nl" in logged and PERSON not in logged


def test_the_report_and_verify_pages_work_without_javascript(server: str, page: Page) -> None:
    page.goto(f"{server}/login?next=/compliance/report")
    page.fill("input[name=token]", OFFICER_TOKEN)
    page.click("button[type=submit]")
    assert page.url.endswith("/compliance/report")
    assert page.locator("svg.chart").count() >= 5
    assert "NO_DIGITAL_USER" in page.inner_text("#rates")
    page.goto(f"{server}/compliance/verify")
    assert page.inner_text("#verdict").startswith("Intact")


def test_signing_out_ends_the_session_even_for_a_copied_cookie(
    server: str, browser: Browser
) -> None:
    """Alice signs out; someone who copied her cookie before that finds the sign-in form."""
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{server}/login?next=/compliance")
    page.fill("input[name=token]", OFFICER_TOKEN)
    page.click("button[type=submit]")
    assert page.url == f"{server}/compliance"
    copied = context.cookies()
    assert [c["name"] for c in copied] == ["comms_session"]
    assert copied[0]["value"] != OFFICER_TOKEN and copied[0]["httpOnly"]

    page.click("header button:text-is('Sign out')")  # the form carries its CSRF token
    assert "/login" in page.url
    context.close()

    thief = browser.new_context(java_script_enabled=False)
    thief.add_cookies(copied)
    stolen = thief.new_page()
    stolen.goto(f"{server}/compliance")
    assert "/login" in stolen.url
    thief.close()
