"""Every variable a template reads exists in its event model, and both languages read the same ones."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from jinja2 import Environment

from comms.compose.catalogue import TEMPLATE_FILES
from comms.compose.checks.problems import Kind, Problem
from comms.compose.checks.shapes import context_shapes
from comms.compose.checks.structure import LANGUAGE_NAMES
from comms.compose.checks.variables import Use, Walker
from comms.compose.environment import load_fund
from comms.models import Language


def uses_of(templates_dir: Path, env: Environment, language: Language, doc_type: str) -> list[Use]:
    """Everything the type's files (and the pieces they pull in) read, for one language."""
    try:
        fund = load_fund(templates_dir, language)
    except (OSError, ValueError):
        fund = {}  # an unreadable fund.toml is reported by the structure check
    walker = Walker(env, templates_dir, context_shapes(doc_type, fund))
    for name in TEMPLATE_FILES:
        walker.walk_entry(f"{doc_type}/{name}")
    return walker.uses


def field_problems(
    templates_dir: Path, envs: dict[Language, Environment], doc_types: Iterable[str]
) -> list[Problem]:
    problems: list[Problem] = []
    read: dict[Language, dict[str, dict[str, int]]] = {lang: {} for lang in Language}
    for doc_type in doc_types:
        for lang in Language:
            for use in uses_of(templates_dir, envs[lang], lang, doc_type):
                if use.problem:
                    problems.append(
                        Problem(use.file, use.line, use.problem, use.todo, Kind.VARIABLE)
                    )
                elif use.path and use.file.startswith(f"{lang.value}/"):
                    inside = use.file.split("/", 1)[1]
                    read[lang].setdefault(inside, {}).setdefault(use.path, use.line)
    problems += _compare_languages(read)
    return problems


def _compare_languages(read: dict[Language, dict[str, dict[str, int]]]) -> list[Problem]:
    """A value printed in one language and not the other is a letter that says less in one."""
    problems = []
    for a, b in ((Language.NL, Language.FR), (Language.FR, Language.NL)):
        for name in sorted(set(read[a]) & set(read[b])):
            for path, line in sorted(read[a][name].items()):
                if path in read[b][name]:
                    continue
                problems.append(
                    Problem(
                        f"{a.value}/{name}",
                        line,
                        f"`{path}` is used here but never in {b.value}/{name}.",
                        f"Both languages must say the same things: add it to the "
                        f"{LANGUAGE_NAMES[b]} text too, or remove it here.",
                        Kind.LANGUAGES,
                    )
                )
    return problems
