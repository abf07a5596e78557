"""Letters rendered in warm processes are the composer's letters; crashes, hangs and refusals are told."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from datetime import date
from functools import partial
from pathlib import Path

import pytest

from comms.compose import Composer
from comms.compose.pool import RenderCrashed, RenderPool
from comms.errors import InvalidEvent, MissingTemplate, RenderRefused
from comms.events import AnyEvent, parse_event, to_json
from comms.models import Message
from comms.samples import load_sample
from comms.settings import Settings, load_settings
from tests.compose.conftest import LAYOUT

ISSUED = date(2027, 1, 4)
NAMES = ("contribution-notice-nl", "decision-fr", "contribution-notice-fr", "decision-nl")


def sample(name: str, dossier: str | None = None) -> AnyEvent:
    raw = load_sample(name)
    if dossier is not None:
        raw["dossier"] = dossier
    return parse_event(raw)


class Misbehaving(Composer):
    """Dies on dossier CRASH (and on CRASH-ONCE the first time), hangs on dossier SLOW."""

    def __init__(self, templates_dir: Path, marker: Path) -> None:
        super().__init__(templates_dir, LAYOUT)
        self.marker = marker

    def compose(self, event: AnyEvent, *, issued_on: date | None = None) -> Message:
        if event.dossier == "CRASH":
            os._exit(3)
        if event.dossier == "CRASH-ONCE" and not self.marker.exists():
            self.marker.touch()
            os._exit(3)
        if event.dossier == "SLOW":
            time.sleep(60)
        return super().compose(event, issued_on=issued_on)


def misbehaving(templates_dir: Path, marker: Path) -> Composer:
    return Misbehaving(templates_dir, marker)


def no_composer() -> Composer:
    raise ConnectionError("the template store said something about a member")


@pytest.fixture(scope="module")
def pool() -> Iterator[RenderPool]:
    with RenderPool(load_settings(environment="test"), processes=2) as p:
        yield p


def test_the_pool_renders_the_same_documents_as_the_composer_in_process(
    pool: RenderPool, composer: Composer
) -> None:
    events = [sample(n) for n in NAMES]
    pooled = list(pool.map(events, issued_on=ISSUED))
    for event, message in zip(events, pooled, strict=True):
        assert isinstance(message, Message)
        local = composer.compose(event, issued_on=ISSUED)
        assert message.document.sha256 == local.document.sha256
        assert message.page_count == local.page_count
        assert message.subject == local.subject and message.address_lines == local.address_lines


def test_events_may_come_as_json_as_the_queue_carries_them(pool: RenderPool) -> None:
    event = sample("decision-nl")
    assert (
        pool.compose(to_json(event), issued_on=ISSUED).document.sha256
        == pool.compose(event, issued_on=ISSUED).document.sha256
    )
    with pytest.raises(InvalidEvent):
        pool.compose('{"type": "decision"}')


async def test_the_worker_awaits_letters_without_holding_a_thread(pool: RenderPool) -> None:
    message = await pool.compose_async(sample("contribution-notice-fr"), issued_on=ISSUED)
    assert message.page_count >= 1 and message.document.pdf.startswith(b"%PDF-")


def test_render_processes_stay_small(pool: RenderPool) -> None:
    list(pool.map([sample(n) for n in NAMES * 3], issued_on=ISSUED))
    stats = pool.stats()
    assert sum(s.letters for s in stats) >= 12
    assert all(s.peak_rss_mb < 150 for s in stats), stats  # issue 7: at most 150 MB per process


def test_a_refusal_comes_back_with_its_reason_and_file_and_the_batch_goes_on(
    settings: Settings, templates_copy: Path
) -> None:
    shutil.rmtree(templates_copy / "fr" / "tax_certificate")
    config = settings.model_copy(update={"templates_dir": templates_copy})
    with RenderPool(config, processes=1) as pool:
        with pytest.raises(MissingTemplate, match="another language is never used") as refused:
            pool.compose(sample("tax-certificate-fr"), issued_on=ISSUED)
        assert refused.value.template == "fr/tax_certificate"
        batch = [sample("tax-certificate-nl"), sample("tax-certificate-fr"), sample("decision-fr")]
        outcomes = list(pool.map(batch, issued_on=ISSUED))
    assert isinstance(outcomes[0], Message) and isinstance(outcomes[2], Message)
    assert isinstance(outcomes[1], RenderRefused) and outcomes[1].template == "fr/tax_certificate"


def test_a_process_is_replaced_after_its_quota_of_letters(settings: Settings) -> None:
    with RenderPool(settings, processes=1, letters_per_process=2) as pool:
        messages = list(pool.map([sample(n) for n in NAMES] + [sample(NAMES[0])], issued_on=ISSUED))
        stats = pool.stats()
    assert all(isinstance(m, Message) for m in messages)
    assert len({s.pid for s in stats}) == 3
    assert [s.letters for s in stats] == [2, 2, 1]


def test_a_process_that_dies_is_replaced_and_the_letter_tried_once_more(
    settings: Settings, tmp_path: Path
) -> None:
    factory = partial(misbehaving, settings.templates_dir, tmp_path / "crashed-once")
    with RenderPool(settings, processes=1, composer_factory=factory) as pool:
        assert pool.compose(sample("decision-nl", "CRASH-ONCE"), issued_on=ISSUED).page_count >= 1
        with pytest.raises(RenderCrashed, match="died twice"):
            pool.compose(sample("decision-nl", "CRASH"), issued_on=ISSUED)
        assert pool.compose(sample("decision-fr"), issued_on=ISSUED).page_count >= 1
    assert (tmp_path / "crashed-once").exists()


def test_a_letter_that_hangs_is_given_up_and_its_process_replaced(
    settings: Settings, tmp_path: Path
) -> None:
    factory = partial(misbehaving, settings.templates_dir, tmp_path / "unused")
    with RenderPool(settings, processes=1, composer_factory=factory, timeout_s=3) as pool:
        with pytest.raises(RenderCrashed, match="took over 3 s"):
            pool.compose(sample("decision-nl", "SLOW"), issued_on=ISSUED)
        assert pool.compose(sample("decision-nl"), issued_on=ISSUED).page_count >= 1


def test_a_process_that_cannot_start_names_the_error_but_not_its_message(
    settings: Settings,
) -> None:
    pool = RenderPool(settings, processes=1, composer_factory=no_composer)
    with pool, pytest.raises(RenderCrashed, match="ConnectionError") as crashed:
        pool.compose(sample("decision-nl"), issued_on=ISSUED)
    assert "member" not in str(crashed.value)
