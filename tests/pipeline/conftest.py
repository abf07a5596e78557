"""The pipeline against real stand-ins (SMTP server, eBox simulator, post outbox, SQLite) or, for
orchestration alone, recording channels and stub PDFs (tests/fakes.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from comms.app import App, build_app
from comms.embedded import Embedded, embedded_services
from comms.settings import Settings
from tests.fakes import Recording, recording_app

NO_DIGITAL_USER = "0474028805"  # the French sample company: published, but it never looks


@dataclass
class Rig:
    app: App
    emb: Embedded


@pytest.fixture
def embedded(settings: Settings) -> Iterator[Embedded]:
    with embedded_services(settings, no_digital_users=(NO_DIGITAL_USER,)) as emb:
        yield emb


def make_rig(emb: Embedded, templates: Path | None = None) -> Rig:
    settings = (
        emb.settings
        if templates is None
        else emb.settings.model_copy(update={"templates_dir": templates})
    )
    app = build_app(settings)
    return Rig(app, emb)


@pytest.fixture
async def rig(embedded: Embedded) -> AsyncIterator[Rig]:
    r = make_rig(embedded)
    async with r.app:
        yield r


@pytest.fixture
async def recorded(settings: Settings) -> AsyncIterator[Recording]:
    made = recording_app(settings)
    async with made.app:
        yield made
