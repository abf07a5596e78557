"""Fixtures for rendering: the composer over the real templates."""

from __future__ import annotations

import pytest

from comms.compose import Composer, WindowLayout
from comms.settings import REPO_ROOT

LAYOUT = WindowLayout(left_mm=20, top_mm=50, width_mm=90, height_mm=40)


@pytest.fixture(scope="session")
def composer() -> Composer:
    return Composer(REPO_ROOT / "templates", LAYOUT)
