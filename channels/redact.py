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
