"""What in an email's HTML a mail client would fetch from elsewhere: images, styles, fonts.

A remote image in an email is a tracking pixel whether meant or not: the member's mail client
fetches it on opening and tells the server who read the mail, and when (GDPR art. 5(1)(c), the
fund's own privacy notice). Emails carry their images inline (`data:`) or attached (`cid:`);
links (`<a href>`) are followed only when the reader clicks, so they are not resources.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urlsplit

EMBEDDED_SCHEMES = ("data", "cid")  # inline or attached: nothing is fetched
# Attributes whose value a mail client loads by itself, by tag (None: on any tag).
_RESOURCE_ATTRIBUTES: dict[str, str | None] = {
    "src": None,
    "srcset": None,
    "background": None,
    "poster": None,
    "lowsrc": None,
    "dynsrc": None,
    "data": "object",
    "href": "link",  # a stylesheet or an icon; on <a> a link is only followed when clicked
    "xlink:href": None,  # SVG <image>, <use>
}
_CSS_URL = re.compile(
    r"""url\(\s*(['"]?)(?P<url>[^'")]*)\1\s*\)|@import\s+(['"])(?P<imp>[^'"]*)\3""", re.I
)
TEMPLATE_MARKS = ("{{", "{%")  # a template's own expression: known only once rendered


def would_fetch(what: str) -> str:
    """Why a remote reference refuses an email, in the words the check and the composer share."""
    return f"the member's mail client would fetch {what} when the email is opened"


@dataclass(frozen=True)
class RemoteResource:
    """One reference a mail client would fetch: where (1-based line) and whence (no path)."""

    line: int
    origin: str  # scheme://host/ only: the rest may carry a member's data (a tracking id)
    kind: str  # which attribute or CSS rule: the only thing a refusal may name (issue 13)


def remote_resources(html: str, *, template: bool = False) -> list[RemoteResource]:
    """Every fetched reference that is not embedded; `template`: skip values built by Jinja."""
    finder = _Finder(template)
    finder.feed(html)
    finder.close()
    return finder.found


class _Finder(HTMLParser):
    def __init__(self, template: bool) -> None:
        super().__init__(convert_charrefs=True)
        self._template = template
        self._in_style = False
        self.found: list[RemoteResource] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        line = self.getpos()[0]
        for name, value in attrs:
            if not value:
                continue
            if name == "style":
                self._css(value, line, f"a CSS url() in the style attribute of <{tag}>")
                continue
            if name not in _RESOURCE_ATTRIBUTES or _RESOURCE_ATTRIBUTES[name] not in (None, tag):
                continue
            urls = [part.split()[0] for part in value.split(",") if part.split()]
            for url in urls if name == "srcset" else [value]:
                self._url(url, line, f"the {name} attribute of <{tag}>")
        self._in_style = tag == "style"

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        self._in_style = False

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self._css(data, self.getpos()[0], "a CSS url() or @import in <style>")

    def _css(self, css: str, line: int, kind: str) -> None:
        for match in _CSS_URL.finditer(css):
            url = match.group("url") if match.group("url") is not None else match.group("imp")
            self._url(url, line + css.count("\n", 0, match.start()), kind)

    def _url(self, url: str, line: int, kind: str) -> None:
        url = url.strip()
        if self._template and any(mark in url for mark in TEMPLATE_MARKS):
            return
        parts = urlsplit(url)
        if parts.scheme.lower() in EMBEDDED_SCHEMES:
            return
        if parts.netloc:
            origin = f"{parts.scheme + ':' if parts.scheme else ''}//{parts.netloc}/"
        else:
            origin = "an address without a host (fetched from wherever the mail is read)"
        self.found.append(RemoteResource(line, origin, kind))
