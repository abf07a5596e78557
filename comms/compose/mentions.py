"""Finds the `data-mention` marks in a rendered letter, so a missing legal mention blocks sending."""

from __future__ import annotations

from html.parser import HTMLParser

_VOID = frozenset({"img", "br", "hr", "meta", "link", "input", "source", "wbr", "col", "area"})


class _MentionParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: dict[str, str] = {}
        self._open: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        mention = attributes.get("data-mention")
        if tag in _VOID:
            if mention:
                present = bool(attributes.get("src") or attributes.get("alt"))
                self.found[mention] = self.found.get(mention, "") + ("x" if present else "")
            return
        self._open.append((tag, mention))
        if mention:
            self.found.setdefault(mention, "")

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                del self._open[i:]
                return

    def handle_data(self, data: str) -> None:
        text = data.strip()
        if not text:
            return
        for _, mention in self._open:
            if mention:
                self.found[mention] += text


def mentions_in(html: str) -> dict[str, str]:
    """Every mark in the page with the text it holds (an image counts when it has a source)."""
    parser = _MentionParser()
    parser.feed(html)
    parser.close()
    return parser.found


def missing_mentions(html: str, required: tuple[str, ...]) -> list[str]:
    """The required marks that are absent or empty, in the catalogue's order."""
    found = mentions_in(html)
    return [m for m in required if not found.get(m)]
