"""Every letter carries the `data-mention` marks the law asks of its type, whatever the sample.

Decisions: reasons and every appeal mention (charter of the socially insured, art. 14, and art. 15
for recoveries); payable letters (notices, and recovery decisions, which the member repays): the
payment block. The composer refuses a rendering without them; this finds the gap before a
member's letter is refused.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import Environment, TemplateNotFound, TemplateSyntaxError, nodes

from comms.compose.checks import parsing
from comms.compose.checks.problems import Kind, Problem
from comms.compose.checks.shapes import has_payment
from comms.doctypes import DOC_TYPES, PAYMENT_MENTIONS
from comms.errors import InvalidEvent
from comms.events import parse_event
from comms.models import Language

MARK = re.compile(r"""data-mention\s*=\s*["']([^"']+)["']""")
LETTER = "letter.html"


def required_marks(doc_type: str, samples: Iterable[Mapping[str, Any]]) -> tuple[str, ...]:
    """The type's own marks, the payment block if it has a payment, and what any sample needs."""
    kind = DOC_TYPES[doc_type]
    needed = list(kind.mentions)
    if has_payment(doc_type):
        needed += PAYMENT_MENTIONS
    for raw in samples:
        if raw.get("type") != doc_type:
            continue
        try:
            needed += kind.required_mentions(parse_event(dict(raw)))
        except InvalidEvent:
            continue  # a broken sample is reported by the rendering check
    return tuple(dict.fromkeys(needed))


def marks_in(env: Environment, templates_dir: Path, name: str) -> dict[str, tuple[str, int]]:
    """Each mark in a template and the pieces it pulls in, with the file and line that holds it."""
    found: dict[str, tuple[str, int]] = {}
    seen: set[str] = set()
    pending = [name]
    root = templates_dir.resolve()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            source, filename, _ = env.loader.get_source(env, current)  # type: ignore[union-attr]
            tree = parsing.parse(env, source, current, filename)
        except (TemplateNotFound, TemplateSyntaxError):
            continue  # reported by the structure check
        shown = Path(filename or current).resolve().relative_to(root).as_posix()
        for data in tree.find_all(nodes.TemplateData):  # comments are not marks
            for match in MARK.finditer(data.data):
                line = data.lineno + data.data.count("\n", 0, match.start())
                found.setdefault(match.group(1), (shown, line))
        for piece in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
            target = getattr(piece, "template", None)
            if isinstance(target, nodes.Const) and isinstance(target.value, str):
                pending.append(target.value)
    return found


def mention_problems(
    templates_dir: Path,
    envs: dict[Language, Environment],
    doc_types: Iterable[str],
    samples: Iterable[Mapping[str, Any]],
) -> list[Problem]:
    problems = []
    sample_list = list(samples)
    for doc_type in doc_types:
        needed = required_marks(doc_type, sample_list)
        found = {
            lang: marks_in(envs[lang], templates_dir, f"{doc_type}/{LETTER}") for lang in Language
        }
        for lang in Language:
            other = Language.FR if lang is Language.NL else Language.NL
            for mark in needed:
                if mark in found[lang]:
                    continue
                hint = ""
                if mark in found[other]:
                    where, line = found[other][mark]
                    hint = f" The other language has it in {where}, line {line}."
                problems.append(
                    Problem(
                        f"{lang.value}/{doc_type}/{LETTER}",
                        None,
                        f"no passage is marked `{mark}` (in this letter or the pieces it includes); "
                        "the law requires it, so every such letter would be refused.",
                        f'Put the passage back, with data-mention="{mark}" on the element that holds it '
                        f"(docs/templates.md, Mandatory mentions).{hint}",
                        Kind.MENTION,
                    )
                )
    return problems
