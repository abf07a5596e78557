"""One event shown as a member would get it, in Dutch and in French: the studio's page data.

Rendering goes through the real composer and the real PDF path; nothing is sent or recorded.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from comms.compose.checks.problems import Kind, Problem
from comms.compose.checks.rendering import SampleRenderer
from comms.models import Language

PAGE_SCALE = 1.25  # 72 dpi × 1.25 = 90 dpi: an A4 page about 740 px wide, sharp enough to read
MAX_PAGES_SHOWN = 12  # a statement with hundreds of movements still gives a readable page
NO_RASTERISER = Problem(
    "(studio)",
    None,
    "the PDF was made, but its pages cannot be shown here: pypdfium2 is not installed.",
    "Ask an operator to install it (pip install pypdfium2); `comms preview TYPE --out x.pdf` "
    "writes the PDF meanwhile.",
    Kind.RENDER,
)


@dataclass(frozen=True)
class Side:
    """One language of the preview; `problems` say why something is missing."""

    language: Language
    subject: str
    ebox_subject: str
    email_text: str
    email_html: str
    pages: tuple[bytes, ...]  # PNG images of the PDF's pages
    page_count: int
    template_version: str
    problems: tuple[Problem, ...]

    @property
    def rendered(self) -> bool:
        return bool(self.template_version)


def page_images(pdf: bytes, scale: float = PAGE_SCALE, limit: int = MAX_PAGES_SHOWN) -> list[bytes]:
    """The PDF's pages as PNG, through PDFium (what a reader shows, not what the HTML meant)."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        images = []
        for index in range(min(len(document), limit)):
            page = document[index]
            try:
                buffer = io.BytesIO()
                page.render(scale=scale).to_pil().save(buffer, format="PNG", optimize=True)
                images.append(buffer.getvalue())
            finally:
                page.close()
        return images
    finally:
        document.close()


def pair(samples: Mapping[str, Mapping[str, Any]], doc_type: str) -> dict[str, dict[Language, str]]:
    """Samples of a type by family: `decision-recovery` → its Dutch and its French sample.

    Free text in events (a decision's reasons) is written in the member's language, so each
    column shows the sample written for it; a family with one language lends it to the other.
    """
    families: dict[str, dict[Language, str]] = {}
    for name, raw in sorted(samples.items()):
        if raw.get("type") != doc_type:
            continue
        language = Language(raw["recipient"]["language"])
        family = name.removesuffix(f"-{language.value}")
        families.setdefault(family, {})[language] = name
    for names in families.values():
        for language in Language:
            names.setdefault(language, next(iter(names.values())))
    return families


def preview(
    renderer: SampleRenderer, events: Mapping[Language, tuple[str, Mapping[str, Any]]]
) -> dict[Language, Side]:
    """Each language's event rendered in that language (a pasted event is used for both)."""
    sides = {}
    for language in Language:
        if language not in events:
            continue
        name, raw = events[language]
        trial = renderer.trial(name, raw, language)
        r = trial.rendered
        problems = list(trial.problems)
        pages: list[bytes] = []
        if trial.pdf:
            try:
                pages = page_images(trial.pdf)
            except ImportError:  # pypdfium2 is a test extra today; the letter itself is fine
                problems.append(NO_RASTERISER)
        sides[language] = Side(
            language=language,
            subject=r.subject if r else "",
            ebox_subject=r.ebox_subject if r else "",
            email_text=r.email_text if r else "",
            email_html=r.email_html if r else "",
            pages=tuple(pages),
            page_count=trial.pages,
            template_version=r.template_version if r else "",
            problems=tuple(problems),
        )
    return sides
