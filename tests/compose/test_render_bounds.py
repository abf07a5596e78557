"""A template that runs away is refused with its reason, not rendered into gigabytes or forever."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from comms.compose import Composer
from comms.compose import composer as composer_module
from comms.compose.pool import RenderPool
from comms.errors import RenderRefused
from comms.events import parse_event
from comms.models import Status
from comms.samples import load_sample
from comms.settings import Settings
from tests.compose.conftest import LAYOUT
from tests.compose.test_fail_closed import ISSUED, append_to_body
from tests.pipeline.conftest import Embedded, embedded, make_rig  # noqa: F401 - a fixture
from tests.pipeline.test_pipeline import maildir_messages, post_entries, run

TEN_MB_AT_ONCE = '{{ "x" * 10000000 }}'
TEN_MB_IN_A_LOOP = '{% for i in range(100000) %}{{ "0123456789" * 10 }}{% endfor %}'


def _compose(templates: Path, name: str = "tax-certificate-nl") -> None:
    Composer(templates, LAYOUT).compose(parse_event(load_sample(name)), issued_on=ISSUED)


@pytest.mark.parametrize(
    "snippet, reason",
    [
        (TEN_MB_AT_ONCE, "would make a value longer than 1,000,000 characters"),
        (TEN_MB_IN_A_LOOP, "made more than 1,000,000 characters of text"),
        ("{{ 10 ** 100000000 }}", "would make a number larger than 4096 bits"),
    ],
)
def test_a_template_building_megabytes_is_refused_at_once(
    templates_copy: Path, snippet: str, reason: str
) -> None:
    append_to_body(templates_copy, "nl", "tax_certificate", snippet)
    started = time.monotonic()
    with pytest.raises(RenderRefused, match=reason) as refused:
        _compose(templates_copy)
    assert time.monotonic() - started < 5
    assert refused.value.template == "tax_certificate/letter.html"


def test_a_template_that_keeps_going_is_refused_after_the_letters_time(
    templates_copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(composer_module, "TEXTS_MAX_S", 0.5)
    append_to_body(
        templates_copy,
        "nl",
        "tax_certificate",
        # Output that never grows (an empty text per turn): the time limit, not the size, stops it.
        "{% for i in range(100000) %}{% for j in range(100000) %}"
        "{{ j|string|replace(j|string, '') }}{% endfor %}{% endfor %}",
    )
    started = time.monotonic()
    with pytest.raises(RenderRefused, match=r"took more than 0\.5 s"):
        _compose(templates_copy)
    assert time.monotonic() - started < 5


async def test_a_runaway_letter_is_recorded_as_refused_and_nothing_is_sent(
    embedded: Embedded,  # noqa: F811
    templates_copy: Path,
) -> None:
    append_to_body(templates_copy, "nl", "tax_certificate", TEN_MB_IN_A_LOOP)
    rig = make_rig(embedded, templates_copy)
    async with rig.app:
        outcome = await run(rig.app, "tax-certificate-nl")
    assert outcome.verdict == "refused"
    assert "more than 1,000,000 characters" in (outcome.reason or "")
    history = rig.app.ledger.history("sample-tax-certificate-nl")
    assert [e.status for e in history] == [Status.ACCEPTED, Status.REFUSED]
    assert "more than 1,000,000 characters" in (history[-1].reason or "")
    assert not maildir_messages(rig) and not post_entries(rig) and rig.emb.ebox.messages() == []


def test_the_refusal_comes_back_from_a_render_process(
    templates_copy: Path, settings: Settings
) -> None:
    append_to_body(templates_copy, "fr", "tax_certificate", TEN_MB_AT_ONCE)
    pooled = settings.model_copy(update={"templates_dir": templates_copy})
    with RenderPool(pooled, processes=1) as pool:
        with pytest.raises(RenderRefused, match="longer than 1,000,000 characters"):
            pool.compose(parse_event(load_sample("tax-certificate-fr")), issued_on=ISSUED)
        assert pool.compose(parse_event(load_sample("tax-certificate-nl")), issued_on=ISSUED)
