"""Cheap stand-ins for orchestration tests: a PDF maker that skips WeasyPrint.

The real engine is tested where its output is read (tests/compose, the template check, the
end-to-end pipeline test, compliance): elsewhere a letter's PDF only has to exist, be the same
for the same letter and differ between letters.
"""

from __future__ import annotations

import hashlib
import io

from pypdf import PdfWriter

A4_POINTS = (595, 842)


class StubPdf:
    """One blank A4 page per letter, its metadata naming the hash of the HTML it stands for."""

    def __init__(self) -> None:
        self.made = 0  # how many letters went through it (so a test can see it was used)

    def render(self, html: str) -> tuple[bytes, int]:
        writer = PdfWriter()
        writer.add_blank_page(*A4_POINTS)
        writer.add_metadata({"/Subject": hashlib.sha256(html.encode()).hexdigest()})
        buffer = io.BytesIO()
        writer.write(buffer)
        self.made += 1
        return buffer.getvalue(), 1
