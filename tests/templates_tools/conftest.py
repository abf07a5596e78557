"""Fixtures: a composer over a copy of the templates, a store in a fresh database, a helper to edit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from comms.compose import Composer
from comms.compose.check import CheckReport, check_templates
from comms.settings import Settings
from comms.templates_store import TemplateStore
from comms.templates_store.publishing import Filed, publish
from tests.compose.conftest import LAYOUT
from tests.fakes import StubPdf
from tests.ledger.conftest import db_url, pg_database

__all__ = ["db_url", "pg_database"]  # the ledger's database fixtures (SQLite and PostgreSQL)

ISSUED = date(2027, 1, 4)


def edit(path: Path, old: str, new: str) -> None:
    """Replaces the first `old` with `new`, as staff would in their editor."""
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def line_of(path: Path, needle: str) -> int:
    """The 1-based line holding `needle`."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def run_check(templates: Path, render: bool = True, **kwargs: object) -> CheckReport:
    return check_templates(
        Composer(templates, LAYOUT),
        render=render,
        issued_on=ISSUED,
        **kwargs,  # type: ignore[arg-type]
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[TemplateStore]:
    """The store in the test's SQLite database (most tests)."""
    with TemplateStore.from_settings(settings) as opened:
        yield opened


@pytest.fixture
def any_store(db_url: str, settings: Settings) -> Iterator[TemplateStore]:
    """The store on SQLite and on PostgreSQL, for the tests that touch every table."""
    with TemplateStore.from_settings(settings.model_copy(update={"database_url": db_url})) as s:
        yield s


def ask(
    store: TemplateStore,
    templates: Path,
    by: str = "An",
    render: StubPdf | None = None,
    **kwargs: object,
) -> Filed:
    """`comms templates publish`; with `render`, every sample is rendered, to stub PDFs (the real
    engine on every sample is tests/templates_tools/test_check.py's, it takes seconds)."""
    return publish(
        store,
        templates,
        by=by,
        make_composer=lambda folder: Composer(folder, LAYOUT, pdf=render),
        check=lambda composer, types: check_templates(
            composer, doc_types=types, issued_on=ISSUED, render=render is not None
        ),
        **kwargs,  # type: ignore[arg-type]
    )


def publish_and_approve(store: TemplateStore, templates: Path, **kwargs: object) -> None:
    """Everything published by An (checked without rendering) and approved by Bart."""
    outcome = ask(store, templates, **kwargs)
    assert outcome.publication is not None
    store.publications.decide(outcome.publication.id, by="Bart", approve=True)
