"""Strip personal data from text a remote server wrote, before it reaches a log or the ledger."""

from __future__ import annotations

import re

from pydantic import ValidationError

# An addr-spec as servers echo it back (`<jan@example.be>`, `jan@example.be`): loose on purpose,
# a false positive only costs a few characters of diagnostic text.
_EMAIL_RE = re.compile(r"[^\s<>@\"',;:()]+@[^\s<>@\"',;:()]+")
# Runs of 10 or more digits, with the separators Belgians print (`85.07.30-033.28`, `0406.798.006`):
# national and enterprise numbers (domain §1, §9: never in application logs).
_IDENTIFIER_RE = re.compile(r"\d(?:[\d.\- ]*\d){9,}")


# RFC 3463 class.subject.detail (`5.1.1`): the one part of a server's reply that is ours to keep.
ENHANCED_STATUS_RE = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")


def enhanced_status(text: str) -> str:
    """The first RFC 3463 status code in a server's text, or "": the rest is free text that may
    quote a member's name or street, and evidence is chained for good (issue 13)."""
    found = ENHANCED_STATUS_RE.search(text)
    return found.group(0) if found else ""


def scrub(text: str) -> str:
    """Replace email addresses and identifier-like digit runs with placeholders."""
    text = _EMAIL_RE.sub("<address>", text)
    return _IDENTIFIER_RE.sub("<number>", text)


def validation_fields(exc: ValidationError) -> str:
    """Where and how an answer broke its model (`0.readStatus: bool_type`), never the values.

    Pydantic's own message quotes the input, which may hold national numbers.
    """
    return "; ".join(
        f"{'.'.join(str(p) for p in error['loc']) or '(answer)'}: {error['type']}"
        for error in exc.errors(include_input=False, include_url=False)
    )
