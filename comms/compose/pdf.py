"""The letter's page and window geometry, and the PDF engine behind one small interface.

WeasyPrint itself lives in comms/compose/weasy.py and is loaded with the first letter.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import cache
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from comms.settings import Settings

# Archival (issue 2 §3) and accessible (issue 16 §8) in one file: PDF/A-3 level A is PDF/A-3b with a
# structure tree; the PDF/UA-1 identification is added to its XMP (`AccessibleMetadata`), because
# WeasyPrint writes one variant's metadata per file (docs/templates.md, "Tagged letters").
PDF_VARIANT = "pdf/a-3a"
UNTAGGED_VARIANT = "pdf/a-3b"  # the letters as they were before issue 16, for benches and tests
PAGE_MARGIN_TOP_MM = 15.0
PAGE_MARGIN_SIDE_MM = 20.0
PAGE_MARGIN_BOTTOM_MM = 28.0  # the footer: the fund, privacy and complaints, page X of Y; ≥ 5 mm left below it for the printer
WINDOW_GAP_MM = 4.0  # space between the address window and the first line of text
MM_PER_CSS_PX = 25.4 / 96  # WeasyPrint lays boxes out in CSS pixels, 96 to the inch
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
    registered_label_mm: float = 12.0  # settings.registered_label_height_mm

    @classmethod
    def from_settings(cls, settings: Settings) -> WindowLayout:
        """The window the deployment's settings describe: one reading for every composer."""
        return cls(
            left_mm=settings.address_window_left_mm,
            top_mm=settings.address_window_top_mm,
            width_mm=settings.address_window_width_mm,
            height_mm=settings.address_window_height_mm,
            registered_label_mm=settings.registered_label_height_mm,
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
            f".address-window.registered-mail .return-address {{ "
            f"margin-bottom: {self.registered_label_mm}mm; }}\n"
        )


class PdfMaker(Protocol):
    """What the composer needs from a PDF engine: HTML in, the PDF and its page count out."""

    def render(self, html: str) -> tuple[bytes, int]: ...


class DeferredPdf:
    """The WeasyPrint renderer (comms.compose.weasy), built when the first letter is rendered.

    A process that renders nothing (a command, the API, a worker whose letters go to its render
    processes) then never loads WeasyPrint: about 0.7 s of start-up each.
    """

    def __init__(self, shared_dir: Path, layout: WindowLayout, *, tagged: bool = True) -> None:
        self._args = (shared_dir, layout, tagged)
        self._engine: PdfMaker | None = None
        self._lock = threading.Lock()

    def render(self, html: str) -> tuple[bytes, int]:
        with self._lock:
            if self._engine is None:
                from comms.compose.weasy import PdfRenderer

                shared_dir, layout, tagged = self._args
                self._engine = PdfRenderer(shared_dir, layout, tagged=tagged)
        return self._engine.render(html)


@cache
def renderer_version() -> str:
    from comms import __version__

    return f"comms {__version__}; WeasyPrint {version('weasyprint')}"
