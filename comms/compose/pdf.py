"""WeasyPrint to PDF/A with cached stylesheets and fonts, fetching nothing but the templates' assets."""

from __future__ import annotations

import threading
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote, urlparse

import pydyf  # type: ignore[import-untyped]
import weasyprint
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from comms.errors import RenderRefused

if TYPE_CHECKING:
    from comms.settings import Settings

PDF_VARIANT = "pdf/a-3b"  # archival: fonts embedded, self-contained (issue 2 §3)
PAGE_MARGIN_TOP_MM = 15.0
PAGE_MARGIN_SIDE_MM = 20.0
PAGE_MARGIN_BOTTOM_MM = 28.0  # room for the footer with the fund's contact details and page X of Y
WINDOW_GAP_MM = 6.0  # space between the address window and the first line of text
# zlib's own default. pydyf (WeasyPrint's PDF writer) deflates every stream at 9, which costs 5 % of
# a letter's time for files 0.5 % smaller (docs/performance.md).
DEFLATE_LEVEL = 6


@dataclass(frozen=True)
class WindowLayout:
    """Where the envelope window is on an A4 sheet; the print shop's envelope decides (domain §8)."""

    left_mm: float
    top_mm: float
    width_mm: float
    height_mm: float

    @classmethod
    def from_settings(cls, settings: Settings) -> WindowLayout:
        """The window the deployment's settings describe: one reading for every composer."""
        return cls(
            left_mm=settings.address_window_left_mm,
            top_mm=settings.address_window_top_mm,
            width_mm=settings.address_window_width_mm,
            height_mm=settings.address_window_height_mm,
        )

    def css(self) -> str:
        """Page margins and the window box, generated so the two can never disagree."""
        top = self.top_mm - PAGE_MARGIN_TOP_MM
        left = self.left_mm - PAGE_MARGIN_SIDE_MM
        return (
            f"@page {{ size: A4; margin: {PAGE_MARGIN_TOP_MM}mm {PAGE_MARGIN_SIDE_MM}mm "
            f"{PAGE_MARGIN_BOTTOM_MM}mm {PAGE_MARGIN_SIDE_MM}mm; }}\n"
            f".letterhead {{ position: relative; height: {top + self.height_mm + WINDOW_GAP_MM}mm; }}\n"
            f".address-window {{ position: absolute; left: {left}mm; top: {top}mm; "
            f"width: {self.width_mm}mm; height: {self.height_mm}mm; overflow: hidden; }}\n"
        )


class AssetFetcher(URLFetcher):  # type: ignore[misc]
    """Serves `data:` URIs and files under the assets folder; anything else stops the letter."""

    def __init__(self, assets_dir: Path) -> None:
        super().__init__(allowed_protocols=("file", "data"), allow_redirects=False)
        self._root = assets_dir.resolve()

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        if url.startswith("data:"):
            return super().fetch(url, headers)
        parsed = urlparse(url)
        if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
            path = Path(unquote(parsed.path)).resolve()
            if path.is_relative_to(self._root) and path.is_file():
                return URLFetcherResponse(url, path.read_bytes())
        raise FatalURLFetchingError("a template asked for a resource outside its own assets")


class _Deflate:
    """zlib as pydyf sees it, with compression objects capped at DEFLATE_LEVEL."""

    def __getattr__(self, name: str) -> Any:
        return getattr(zlib, name)

    @staticmethod
    def compressobj(level: int = -1, *args: Any, **kwargs: Any) -> Any:
        return zlib.compressobj(
            DEFLATE_LEVEL if level < 0 else min(level, DEFLATE_LEVEL), *args, **kwargs
        )


def use_faster_deflate() -> None:
    """Points pydyf at the capped zlib; a no-op if pydyf stops using a module-level `zlib`."""
    if getattr(pydyf, "zlib", None) is zlib:
        pydyf.zlib = _Deflate()


class PdfMaker(Protocol):
    """What the composer needs from a PDF engine: HTML in, the PDF and its page count out."""

    def render(self, html: str) -> tuple[bytes, int]: ...


class PdfRenderer:
    """Reuses parsed CSS and loaded fonts across letters; reparses only when a stylesheet changes."""

    def __init__(self, shared_dir: Path, layout: WindowLayout) -> None:
        self._shared = shared_dir.resolve()
        self._layout_css = layout.css()
        self._fetcher = AssetFetcher(self._shared)
        self._lock = threading.Lock()
        self._cache_key: tuple[int, int] | None = None
        self._fonts = FontConfiguration()
        self._stylesheets: list[weasyprint.CSS] = []
        use_faster_deflate()

    def _styles(self) -> list[weasyprint.CSS]:
        css_path = self._shared / "letter.css"
        stat = css_path.stat()
        key = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key != self._cache_key:
                self._fonts = FontConfiguration()
                common = {"font_config": self._fonts, "url_fetcher": self._fetcher}
                self._stylesheets = [
                    weasyprint.CSS(filename=str(css_path), **common),
                    weasyprint.CSS(
                        string=self._layout_css, base_url=self._shared.as_uri() + "/", **common
                    ),
                ]
                self._cache_key = key
            return self._stylesheets

    def render(self, html: str) -> tuple[bytes, int]:
        """The PDF bytes and the page count."""
        styles = self._styles()
        try:
            document = weasyprint.HTML(
                string=html, base_url=self._shared.as_uri() + "/", url_fetcher=self._fetcher
            ).render(stylesheets=styles, font_config=self._fonts)
            pdf = document.write_pdf(pdf_variant=PDF_VARIANT)
        except FatalURLFetchingError as exc:
            raise RenderRefused(str(exc)) from None
        assert isinstance(pdf, bytes)
        return pdf, len(document.pages)


def renderer_version() -> str:
    from comms import __version__

    return f"comms {__version__}; WeasyPrint {weasyprint.__version__}"
