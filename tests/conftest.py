"""Shared fixtures: a data folder per test, the settings that point at it, a copy of the templates."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from comms.settings import REPO_ROOT, Settings, load_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(environment="test", data_dir=tmp_path / "var")


@pytest.fixture
def templates_copy(tmp_path: Path) -> Path:
    """The real templates, copied so a test may break them on purpose."""
    target = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "templates", target)
    return target
