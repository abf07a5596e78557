"""Emails that would load images, styles or fonts from the web (comms/compose/remote.py says why)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from comms.compose.checks.problems import Kind, Problem
from comms.compose.remote import remote_resources, would_fetch
from comms.models import Language

EMAIL_FILE = "email.html"
REMOTE_TODO = (
    "Emails may not load anything from the web: the member's mail client would fetch it on "
    "opening and tell that server who read the mail. Put the image in the letter (PDF), or "
    "remove it; a link (<a href>) the reader clicks is fine."
)


def remote_problems(root: Path, doc_types: Iterable[str]) -> list[Problem]:
    """Each email template's own references, before rendering; a value built from data is
    caught when the email is rendered (the composer refuses it)."""
    problems: list[Problem] = []
    for language in Language:
        for doc_type in doc_types:
            shown = f"{language.value}/{doc_type}/{EMAIL_FILE}"
            path = root / shown
            try:
                source = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue  # the structure check reports a missing or unreadable file
            for found in remote_resources(source, template=True):
                problems.append(
                    Problem(
                        shown, found.line, would_fetch(found.origin) + ".", REMOTE_TODO, Kind.REMOTE
                    )
                )
    return problems
