"""A problem found in the templates, phrased for communications staff: where, what, what to do."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(str, Enum):
    """What sort of mistake it is, so the studio can group them."""

    FILES = "files"  # a file, block or piece is missing in one language
    SYNTAX = "syntax"  # a tag is not closed, misspelt or unknown
    VARIABLE = "variable"  # the template uses data the event does not have
    LANGUAGES = "languages"  # one language prints data the other does not
    MENTION = "mention"  # a legally required passage is missing
    RENDER = "render"  # the letter could not be made with a sample event
    HTML = "html"  # the HTML made from the template is broken
    REMOTE = "remote"  # an email loads an image, style or font from the web (a tracking pixel)


@dataclass(frozen=True, order=True)
class Problem:
    """One mistake: the file (relative to the templates folder), the line if known, what, what to do."""

    file: str
    line: int | None
    what: str
    todo: str
    kind: Kind = Kind.RENDER

    @property
    def where(self) -> str:
        return f"{self.file}, line {self.line}" if self.line else self.file

    def __str__(self) -> str:
        return f"{self.where}: {self.what} What to do: {self.todo}"


def sort_problems(problems: list[Problem]) -> list[Problem]:
    """By file, then line, without repeats (a partial shared by seven letters is reported once)."""
    unique = {(p.file, p.line or 0, p.what): p for p in problems}
    return [unique[k] for k in sorted(unique)]
