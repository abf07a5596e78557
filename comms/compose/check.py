"""`comms templates check`: everything that must hold before a template may reach a member.

- both languages have the same files, blocks and pieces (checks/structure.py);
- every variable used exists in the event model, and both languages use the same (checks/fields.py);
- decisions hold their reasons and appeal mentions, payable notices the payment block
  (checks/required.py);
- emails load nothing from the web: no remote images, styles or fonts (checks/remote.py);
- every sample event renders in both languages into valid HTML and a PDF (checks/rendering.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from jinja2 import Environment

from comms.compose.checks.fields import field_problems
from comms.compose.checks.problems import Kind, Problem, sort_problems
from comms.compose.checks.remote import remote_problems
from comms.compose.checks.rendering import SampleRenderer, render_problems
from comms.compose.checks.required import mention_problems
from comms.compose.checks.structure import structure_problems
from comms.compose.composer import Composer
from comms.compose.environment import build_environment
from comms.doctypes import DOC_TYPES
from comms.models import Language, today_in_brussels
from comms.samples import all_samples

__all__ = ["CheckReport", "Kind", "Problem", "check_templates", "static_problems"]


@dataclass(frozen=True)
class CheckReport:
    """The problems found, and how many letters were rendered to PDF along the way."""

    problems: list[Problem]
    letters_made: int

    @property
    def ok(self) -> bool:
        return not self.problems


def _environments(templates_dir: Path) -> dict[Language, Environment]:
    return {lang: build_environment(templates_dir, lang) for lang in Language}


def _types(doc_types: Iterable[str] | None) -> list[str]:
    chosen = list(DOC_TYPES) if doc_types is None else list(doc_types)
    unknown = [t for t in chosen if t not in DOC_TYPES]
    if unknown:
        raise ValueError(
            f"unknown document type(s): {', '.join(unknown)}; known: {', '.join(DOC_TYPES)}"
        )
    return chosen


def static_problems(
    templates_dir: Path,
    *,
    doc_types: Iterable[str] | None = None,
    samples: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[Problem]:
    """The checks that read the templates without rendering: fast enough for every page view."""
    root = templates_dir.resolve()
    types = _types(doc_types)
    envs = _environments(root)
    chosen_samples = all_samples() if samples is None else samples
    problems = structure_problems(root, envs, types)
    problems += field_problems(root, envs, types)
    problems += mention_problems(root, envs, types, chosen_samples.values())
    problems += remote_problems(root, types)
    return sort_problems(problems)


def check_templates(
    composer: Composer,
    *,
    doc_types: Iterable[str] | None = None,
    samples: Mapping[str, Mapping[str, Any]] | None = None,
    render: bool = True,
    issued_on: date | None = None,
) -> CheckReport:
    """Every check of the composer's templates; with `render`, each sample in both languages, to PDF."""
    types = _types(doc_types)
    chosen_samples = all_samples() if samples is None else samples
    problems = static_problems(composer.templates_dir, doc_types=types, samples=chosen_samples)
    made = 0
    if render:
        renderer = SampleRenderer(composer, issued_on or today_in_brussels())
        found, made = render_problems(renderer, chosen_samples, types)
        # A line the reading checks already explain needs no second, vaguer report.
        explained = {
            (p.file, p.line) for p in problems if p.line and p.kind in (Kind.VARIABLE, Kind.SYNTAX)
        } | {(p.file, None) for p in problems if p.kind is Kind.REMOTE}
        problems = sort_problems(problems + [p for p in found if (p.file, p.line) not in explained])
    return CheckReport(problems=problems, letters_made=made)
