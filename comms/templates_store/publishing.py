"""`comms templates publish`: freeze the working copy, check it, store its versions, ask for approval.

The check runs on the frozen copy, so what was checked is exactly what is stored and, once a
second person approves, exactly what renders letters.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from comms.compose.check import CheckReport
from comms.compose.composer import Composer
from comms.compose.versions import template_version
from comms.doctypes import DOC_TYPES
from comms.models import Language
from comms.templates_store.publications import Item, Publication, PublishingRefused
from comms.templates_store.store import TemplateStore

Checker = Callable[[Composer, list[str]], CheckReport]  # the composer, the types to publish
ComposerFactory = Callable[[Path], Composer]


@dataclass(frozen=True)
class Filed:
    """A request filed (or nothing to do), with the check that allowed it."""

    publication: Publication | None
    report: CheckReport


class CheckFailed(PublishingRefused):
    """The working copy does not pass `comms templates check`: nothing is stored or requested."""

    def __init__(self, report: CheckReport) -> None:
        self.report = report
        super().__init__(
            f"the templates do not pass the check ({len(report.problems)} problem(s)); "
            "fix them, then publish again"
        )


def working_versions(
    templates_dir: Path, doc_types: Iterable[str]
) -> dict[tuple[str, Language], str]:
    """The version each (type, language) of a folder would have if it were published now."""
    return {
        (t, lang): template_version(templates_dir.resolve(), lang, t)
        for t in doc_types
        for lang in Language
    }


def publish(
    store: TemplateStore,
    templates_dir: Path,
    *,
    by: str,
    make_composer: ComposerFactory,
    check: Checker,
    doc_types: Iterable[str] | None = None,
    note: str | None = None,
) -> Filed:
    """Checks a frozen copy; stores and requests only the (type, language) pairs that changed.

    The check covers the types asked for: the others keep their approved versions, and their
    letters are checked when they are published.
    """
    types = list(DOC_TYPES) if doc_types is None else list(doc_types)
    unknown = [t for t in types if t not in DOC_TYPES]
    if unknown:
        raise PublishingRefused(f"unknown document type(s): {', '.join(unknown)}")
    frozen = Path(tempfile.mkdtemp(prefix="comms-publish-"))
    try:
        copy = frozen / "templates"
        shutil.copytree(templates_dir, copy, symlinks=True)  # links are refused by the check
        report = check(make_composer(copy), types)
        if not report.ok:
            raise CheckFailed(report)
        live = store.publications.live_versions()
        items = []
        for (doc_type, language), version in working_versions(copy, types).items():
            previous = live.get((doc_type, language))
            if version == previous:
                continue
            stored = store.snapshots.put(copy, language, doc_type)
            assert stored == version
            items.append(Item(doc_type, language, version, previous))
        if not items:
            return Filed(None, report)
        summary = (
            f"comms templates check passed: {report.letters_made} letters rendered from the samples"
        )
        return Filed(
            store.publications.request(by=by, items=items, check_summary=summary, note=note), report
        )
    finally:
        shutil.rmtree(frozen, ignore_errors=True)
