"""Shared fixtures: a data folder per test, the settings that point at it, the samples."""

from __future__ import annotations

from pathlib import Path

import pytest

from comms.settings import Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environment="test", data_dir=tmp_path / "var")
