"""Fixtures for rendering: the composer over the real templates, or over a copy a test may break."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from pypdf import PdfReader

from comms.compose import Composer, WindowLayout
from comms.settings import REPO_ROOT

LAYOUT = WindowLayout(left_mm=20, top_mm=50, width_mm=90, height_mm=40)


def pdf_text(pdf: bytes) -> str:
    """The text a reader gets back from the PDF, whitespace normalised."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


@pytest.fixture(scope="session")
def composer() -> Composer:
    return Composer(REPO_ROOT / "templates", LAYOUT)


@pytest.fixture
def templates_copy(tmp_path: Path) -> Path:
    target = tmp_path / "templates"
    shutil.copytree(REPO_ROOT / "templates", target)
    return target
