"""Fixtures for rendering: the composer over the real templates, and each sample letter made once."""

from __future__ import annotations

from datetime import date

import pytest

from comms.compose import Composer, WindowLayout
from comms.events import AnyEvent, parse_event
from comms.models import Message
from comms.samples import all_samples
from comms.settings import REPO_ROOT

LAYOUT = WindowLayout(left_mm=20, top_mm=50, width_mm=90, height_mm=40)
ISSUED = date(2027, 1, 4)
# The tests that read the sample letters run in one xdist process, one module after the other:
# each letter is rendered once per run, and `rendered` (module scope) is not made again each time
# xdist hands the process a test of the other module.
SAMPLE_READERS = pytest.mark.xdist_group("compose-sample-letters")


class SampleLetters:
    """Each sample's letter, rendered by the real composer on first use and then only read."""

    def __init__(self, composer: Composer) -> None:
        self._composer = composer
        self._samples = all_samples(ISSUED)
        self._made: dict[str, tuple[AnyEvent, Message]] = {}

    def __getitem__(self, name: str) -> tuple[AnyEvent, Message]:
        if name not in self._made:
            event = parse_event(dict(self._samples[name]))
            self._made[name] = (event, self._composer.compose(event, issued_on=ISSUED))
        return self._made[name]


@pytest.fixture(scope="session")
def composer() -> Composer:
    return Composer(REPO_ROOT / "templates", LAYOUT)


@pytest.fixture(scope="session")
def sample_letters(composer: Composer) -> SampleLetters:
    """Shared by the tests that read the letters (text, QR code, PDF/A, looks): rendering is costly."""
    return SampleLetters(composer)
