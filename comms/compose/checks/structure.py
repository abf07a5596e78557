"""Both languages have the same files, the same blocks and pieces, readable tags and fund details.

DESIGN.md, Templates: "A check (and a test) holds the two folders to the same files, blocks and
variables", so a legal text is never assembled from two languages or left out of one.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from jinja2 import Environment, TemplateSyntaxError, nodes

from comms.compose.catalogue import TEMPLATE_FILES
from comms.compose.checks import parsing
from comms.compose.checks.problems import Kind, Problem
from comms.doctypes import DOC_TYPES
from comms.models import Language

TEMPLATE_SUFFIXES = (".html", ".txt")
LANGUAGE_NAMES = {Language.NL: "Dutch", Language.FR: "French"}


@dataclass
class Outline:
    """What one template file is made of, with the line where each part starts."""

    blocks: dict[str, int] = field(default_factory=dict)
    pieces: dict[str, int] = field(default_factory=dict)  # included, imported or extended files


def language_files(templates_dir: Path, language: Language) -> dict[str, Path]:
    """Every file of one language folder, by its path inside that folder."""
    folder = templates_dir / language.value
    if not folder.is_dir():
        return {}
    return {p.relative_to(folder).as_posix(): p for p in sorted(folder.rglob("*")) if p.is_file()}


def parse(env: Environment, path: Path, shown: str) -> tuple[nodes.Template | None, list[Problem]]:
    """The file's syntax tree, or the reason it cannot be read, in plain words."""
    try:
        source = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return None, [
            Problem(
                shown,
                None,
                "the file is not saved as UTF-8 text.",
                "Save it again as UTF-8 in your editor (accents and € depend on it).",
                Kind.SYNTAX,
            )
        ]
    try:
        return parsing.parse(env, source, shown, str(path)), []
    except TemplateSyntaxError as exc:
        return None, [
            Problem(
                shown, exc.lineno, _syntax_in_words(exc.message or ""), _SYNTAX_TODO, Kind.SYNTAX
            )
        ]


_SYNTAX_TODO = (
    "Look at this line and the tags above it: every {% if %} needs its {% endif %}, every "
    "{% for %} its {% endfor %}, every {% block %} its {% endblock %}, and every {{ its }}. "
    "The same file in the other language shows how it should look."
)


def _syntax_in_words(message: str) -> str:
    if message.startswith("Unexpected end of template"):
        wanted = message.split("looking for the following tags:")[-1].strip(" .")
        return f"the file ends while a tag is still open (expected {wanted})."
    if message.startswith("Encountered unknown tag"):
        return f"{message.rstrip('.')}: a tag is misspelt, or it closes something that is not open."
    return f"the template cannot be read here: {message}"


def outline(tree: nodes.Template) -> Outline:
    found = Outline()
    for block in tree.find_all(nodes.Block):
        found.blocks.setdefault(block.name, block.lineno)
    for piece in tree.find_all((nodes.Include, nodes.Import, nodes.FromImport, nodes.Extends)):
        target = getattr(piece, "template", None)
        if isinstance(target, nodes.Const) and isinstance(target.value, str):
            found.pieces.setdefault(target.value, piece.lineno)
    return found


def structure_problems(
    templates_dir: Path, envs: dict[Language, Environment], doc_types: Iterable[str]
) -> list[Problem]:
    """Files, syntax, blocks, pieces, macros and fund.toml keys, compared between the languages."""
    problems: list[Problem] = []
    files = {lang: language_files(templates_dir, lang) for lang in Language}
    for doc_type in doc_types:
        for lang in Language:
            missing = [n for n in TEMPLATE_FILES if f"{doc_type}/{n}" not in files[lang]]
            for name in missing:
                problems.append(
                    Problem(
                        f"{lang.value}/{doc_type}/{name}",
                        None,
                        f"this file is missing: every {doc_type.replace('_', ' ')} needs it in {LANGUAGE_NAMES[lang]}.",
                        "Create it (start from the same file in the other language and translate it). "
                        "A letter is never sent in another language instead.",
                        Kind.FILES,
                    )
                )
    for lang in Language:
        for folder in sorted({name.split("/")[0] for name in files[lang] if "/" in name}):
            if folder != "_common" and folder not in DOC_TYPES:
                problems.append(
                    Problem(
                        f"{lang.value}/{folder}",
                        None,
                        f"`{folder}` is not a document type the service knows.",
                        "Check the folder's name against docs/templates.md; a new document type "
                        "also needs a developer (README, Adding a document type).",
                        Kind.FILES,
                    )
                )
    outlines: dict[Language, dict[str, Outline]] = {lang: {} for lang in Language}
    for lang in Language:
        for name, path in files[lang].items():
            if not name.endswith(TEMPLATE_SUFFIXES):
                continue
            tree, found = parse(envs[lang], path, f"{lang.value}/{name}")
            problems += found
            if tree is not None:
                outlines[lang][name] = outline(tree)
    shared = templates_dir / "shared"
    for path in sorted(shared.rglob("*")) if shared.is_dir() else []:
        if path.is_file() and path.name.endswith(TEMPLATE_SUFFIXES):
            shown = path.relative_to(templates_dir).as_posix()
            problems += parse(envs[Language.NL], path, shown)[1]
    first, second = Language.NL, Language.FR
    for a, b in ((first, second), (second, first)):
        for name in sorted(set(files[a]) - set(files[b])):
            problems.append(
                Problem(
                    f"{b.value}/{name}",
                    None,
                    f"this file is missing, but {a.value}/{name} exists.",
                    f"Both languages keep the same files: add the {LANGUAGE_NAMES[b]} version, "
                    f"or remove the {LANGUAGE_NAMES[a]} one if it is no longer used.",
                    Kind.FILES,
                )
            )
        for name in sorted(set(outlines[a]) & set(outlines[b])):
            problems += _compare_outlines(name, a, outlines[a][name], b, outlines[b][name])
    problems += _fund_problems(templates_dir)
    problems += _link_problems(templates_dir)
    return problems


def _link_problems(templates_dir: Path) -> list[Problem]:
    """A link could make a letter read a file outside the templates (or change under it)."""
    return [
        Problem(
            path.relative_to(templates_dir).as_posix(),
            None,
            "this is a link to another file, not a file of its own.",
            "Replace it with a copy of the file it points to: templates may only use files "
            "inside the templates folder.",
            Kind.FILES,
        )
        for path in sorted(templates_dir.rglob("*"))
        if path.is_symlink()
    ]


def _compare_outlines(
    name: str, a: Language, mine: Outline, b: Language, theirs: Outline
) -> list[Problem]:
    """What `a` has and `b` lacks; the reverse is found when the languages swap.

    Macros are not compared: a language may need its own helpers (French `de` + article); a macro
    another file calls but one language lacks is found by the variables check.
    """
    problems = []
    parts = (
        ("block", mine.blocks, theirs.blocks, "{% block NAME %}…{% endblock %}"),
        (
            "piece",
            mine.pieces,
            theirs.pieces,
            "the same {% include %}, {% import %} or {% extends %} of NAME",
        ),
    )
    for label, have, other, how in parts:
        for part, line in sorted(have.items()):
            if part in other:
                continue
            problems.append(
                Problem(
                    f"{b.value}/{name}",
                    None,
                    f"the {label} `{part}` is missing, but {a.value}/{name} has it (line {line}).",
                    f"Add {how.replace('NAME', part)} to the {LANGUAGE_NAMES[b]} file, or remove "
                    f"it from the {LANGUAGE_NAMES[a]} one: both languages are built the same way.",
                    Kind.FILES,
                )
            )
    return problems


def _fund_problems(templates_dir: Path) -> list[Problem]:
    keys: dict[Language, set[str]] = {}
    problems = []
    for lang in Language:
        path = templates_dir / lang.value / "fund.toml"
        shown = f"{lang.value}/fund.toml"
        if not path.is_file():
            continue  # reported as a missing file
        try:
            keys[lang] = set(tomllib.loads(path.read_text(encoding="utf-8")))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            at = re.search(r"at line (\d+)", str(exc))
            problems.append(
                Problem(
                    shown,
                    int(at.group(1)) if at else None,
                    f"the fund's details cannot be read: {exc}.",
                    'Each line reads name = "text", with straight double quotes around the text.',
                    Kind.SYNTAX,
                )
            )
    if len(keys) == len(Language):
        for a, b in ((Language.NL, Language.FR), (Language.FR, Language.NL)):
            for key in sorted(keys[a] - keys[b]):
                problems.append(
                    Problem(
                        f"{b.value}/fund.toml",
                        None,
                        f"`{key}` is missing, but {a.value}/fund.toml has it.",
                        f'Add {key} = "…" in {LANGUAGE_NAMES[b]}, or remove it from both.',
                        Kind.FILES,
                    )
                )
    return problems
