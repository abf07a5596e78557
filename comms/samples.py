"""The built-in sample events: one per document type and language, for previews, the demo and tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from comms.settings import ASSETS_DIR

SAMPLES_DIR = ASSETS_DIR / "samples"


def sample_paths() -> list[Path]:
    return sorted(SAMPLES_DIR.glob("*.json"))


def load_sample(name: str) -> dict[str, Any]:
    """A sample by file stem, e.g. `decision-nl`; raw JSON so callers can break it on purpose."""
    data: dict[str, Any] = json.loads((SAMPLES_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return data


def all_samples() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sample_paths()}


def sample_for(doc_type: str, language: str) -> dict[str, Any]:
    """The first sample of this type in this language (the studio's and preview's default)."""
    for data in all_samples().values():
        if data["type"] == doc_type and data["recipient"]["language"] == language:
            return data
    raise KeyError(f"no sample for {doc_type}/{language}")
