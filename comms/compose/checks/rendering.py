"""Each sample event, in both languages, through the real composer: valid HTML and a PDF, or why not."""

from __future__ import annotations

import contextlib
import copy
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from tinyhtml5.parser import HTMLParser  # type: ignore[import-untyped]

from comms.compose.checks.problems import Kind, Problem
from comms.compose.checks.remote import REMOTE_TODO
from comms.compose.checks.structure import LANGUAGE_NAMES
from comms.compose.composer import Composer, Rendered
from comms.compose.environment import build_environment
from comms.doctypes import DOC_TYPES
from comms.errors import InvalidEvent, MissingMention, RemoteContent, RenderRefused
from comms.events import AnyEvent, parse_event
from comms.models import Language

HTML_TODO = (
    "Check that every tag opened in the template is closed, in the right order, and only once "
    "(for example <p>…</p>, <table>…</table>); the same file in the other language shows how."
)
# tinyhtml5 (WeasyPrint's HTML parser) reports codes; these are the ones template edits cause.
HTML_ERRORS = {
    "unexpected-end-tag": "a closing tag </{name}> closes nothing that is open",
    "end-tag-too-early": "</{name}> closes an element while one inside it is still open",
    "expected-one-end-tag-but-got-another": "</{gotName}> was found where </{expectedName}> was expected",
    "expected-closing-tag-but-got-eof": "an element is never closed",
    "duplicate-attribute": "an element has the same attribute twice",
    "eof-in-table": "a table is never closed",
    "unexpected-end-tag-implies-table-voodoo": "</{name}> is inside a table where it does not belong",
}


def with_language(raw: Mapping[str, Any], language: Language) -> dict[str, Any]:
    """The same event addressed in another language: both texts must hold for every event."""
    twin = copy.deepcopy(dict(raw))
    twin["recipient"]["language"] = language.value
    return twin


@dataclass(frozen=True)
class Finding:
    """What went wrong with one sample; grouped over samples before it becomes a Problem."""

    file: str
    line: int | None
    reason: str  # completes "with the sample X, …"
    todo: str
    kind: Kind

    def for_samples(self, samples: Iterable[str]) -> Problem:
        """ "with the samples a, b, …"; without names (a pasted event), "with this event"."""
        names = sorted(n for n in samples if n)
        label = (
            "this event"
            if not names
            else f"the sample {names[0]}"
            if len(names) == 1
            else f"the samples {', '.join(names)}"
        )
        return Problem(self.file, self.line, f"with {label}, {self.reason}", self.todo, self.kind)


@dataclass(frozen=True)
class Trial:
    """One sample rendered in one language; `findings` empty when it went well."""

    sample: str
    language: Language
    rendered: Rendered | None
    pdf: bytes | None
    pages: int
    findings: tuple[Finding, ...]

    @property
    def problems(self) -> list[Problem]:
        return [f.for_samples([self.sample]) for f in self.findings]


def html_problems(html: str, file: str) -> list[Finding]:
    """Parse errors in rendered HTML, with the rendered line so staff can find it in the file."""
    parser = HTMLParser()
    parser.parse(html)
    lines = html.splitlines()
    problems = []
    for (line, _column), code, data in parser.errors:
        words = HTML_ERRORS.get(code, code.replace("-", " "))
        with contextlib.suppress(KeyError, IndexError):
            words = words.format(**data)
        near = lines[line - 1].strip()[:120] if 0 < line <= len(lines) else ""
        problems.append(
            Finding(
                file, None, f"the HTML is broken: {words}, near “{near}”.", HTML_TODO, Kind.HTML
            )
        )
    return problems


class SampleRenderer:
    """Renders samples with one composer; finds the template line when a rendering fails."""

    def __init__(self, composer: Composer, issued_on: date) -> None:
        self.composer = composer
        self.root = composer.templates_dir
        self.issued_on = issued_on

    def trial(
        self, sample: str, raw: Mapping[str, Any], language: Language, *, pdf: bool = True
    ) -> Trial:
        try:
            event = parse_event(with_language(raw, language))
        except InvalidEvent as exc:
            return Trial(sample, language, None, None, 0, (self._invalid(sample, exc),))
        folder = f"{language.value}/{event.type}"
        try:
            rendered = self.composer.render_texts(event, issued_on=self.issued_on)
        except RenderRefused as exc:
            return Trial(sample, language, None, None, 0, (self._refused(event, exc),))
        except Exception as exc:  # a filter given nothing, a range too large…: found, not raised
            return Trial(sample, language, None, None, 0, (self._crashed(event, exc),))
        problems = html_problems(rendered.letter_html, f"{folder}/letter.html")
        problems += html_problems(rendered.email_html, f"{folder}/email.html")
        document, pages = None, 0
        if pdf:
            try:
                document, pages = self.composer.pdf_from_html(rendered.letter_html)
            except Exception as exc:  # RenderRefused (a fetch refused) or a WeasyPrint failure
                problems.append(
                    Finding(
                        f"{folder}/letter.html",
                        None,
                        f"no PDF could be made: {_reason(exc)}.",
                        "Templates may only use the fonts and images in templates/shared/; "
                        "remove links to other files or web addresses.",
                        Kind.RENDER,
                    )
                )
        return Trial(sample, language, rendered, document, pages, tuple(problems))

    @staticmethod
    def _invalid(sample: str, exc: InvalidEvent) -> Finding:
        return Finding(
            f"samples/{sample}.json",
            None,
            f"the event is not valid: {exc}.",
            "Ask a developer to fix the sample (it must follow `comms schema`).",
            Kind.RENDER,
        )

    def _refused(self, event: AnyEvent, exc: RenderRefused) -> Finding:
        folder = f"{event.recipient.language.value}/{event.type}"
        if isinstance(exc, MissingMention):
            return Finding(
                f"{folder}/letter.html",
                None,
                f"the letter would be refused: {exc.reason}.",
                "A required passage is missing or empty for this kind of event: check the "
                "{% if %} around it, and that its data-mention mark is on an element with text.",
                Kind.MENTION,
            )
        if isinstance(exc, RemoteContent):
            return Finding(
                exc.template or f"{folder}/email.html", None, exc.reason, REMOTE_TODO, Kind.REMOTE
            )
        where, line = self._locate(event, exc.template)
        return Finding(
            where or f"{folder}/{exc.template or 'letter.html'}",
            line,
            f"the letter would be refused: {exc.reason.rstrip('.')}.",
            "Fix the template at this line; `comms templates check` says more about it above "
            "when it is a misspelt name.",
            Kind.RENDER,
        )

    def _crashed(self, event: AnyEvent, exc: Exception) -> Finding:
        where, line = _template_frame(exc, self.root)
        return Finding(
            where or f"{event.recipient.language.value}/{event.type}",
            line,
            f"the template fails: {_reason(exc)}.",
            "Often a value that may be empty is printed without {% if … %} around it, "
            "or a filter is given something it cannot format.",
            Kind.RENDER,
        )

    def _locate(self, event: AnyEvent, template: str | None) -> tuple[str | None, int | None]:
        """Renders the failing file again, outside the composer, to read the line from Jinja."""
        if not template or ":" in template:
            if template and ":" in template:  # syntax errors already carry file:line
                path, _, line = template.rpartition(":")
                try:
                    shown = Path(path).resolve().relative_to(self.root).as_posix()
                except ValueError:
                    shown = path
                return shown, int(line) if line.isdigit() else None
            return None, None
        env = build_environment(self.root, event.recipient.language)
        try:
            env.get_template(template).render(self.composer.context(event, self.issued_on))
        except Exception as exc:  # the same failure as in the composer, now with its traceback
            return _template_frame(exc, self.root)
        return None, None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, RenderRefused):
        return exc.reason
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    return str(message).rstrip(".")


def _template_frame(exc: BaseException, root: Path) -> tuple[str | None, int | None]:
    """The innermost template file and line in the traceback (Jinja rewrites frames to them)."""
    found: tuple[str | None, int | None] = (None, None)
    for frame in traceback.extract_tb(exc.__traceback__):
        try:
            shown = Path(frame.filename).resolve().relative_to(root).as_posix()
        except (ValueError, OSError):
            continue
        found = (shown, frame.lineno)
    return found


def render_problems(
    renderer: SampleRenderer, samples: Mapping[str, Mapping[str, Any]], doc_types: Iterable[str]
) -> tuple[list[Problem], int]:
    """Every sample of the given types, in both languages; and how many letters were made.

    The same mistake met by several samples is one problem that names them all.
    """
    wanted = set(doc_types)
    grouped: dict[Finding, list[str]] = {}
    made = 0
    covered: set[str] = set()
    for name, raw in sorted(samples.items()):
        if raw.get("type") not in wanted:
            continue
        covered.add(str(raw["type"]))
        for language in Language:
            trial = renderer.trial(name, raw, language)
            for finding in trial.findings:
                grouped.setdefault(finding, []).append(f"{name} in {LANGUAGE_NAMES[language]}")
            made += trial.pdf is not None
    problems = [finding.for_samples(names) for finding, names in grouped.items()]
    for doc_type in sorted(wanted - covered):
        if doc_type in DOC_TYPES:
            problems.append(
                Problem(
                    f"samples/{doc_type}",
                    None,
                    f"there is no sample event for {doc_type}, so its letters cannot be tried.",
                    f"Ask a developer to add samples/{doc_type.replace('_', '-')}-nl.json and -fr.json.",
                    Kind.RENDER,
                )
            )
    return problems, made
