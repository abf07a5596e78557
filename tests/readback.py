"""Read back what a user would see: the text of a PDF, as a reader extracts it."""

from __future__ import annotations

import html
import io
import re
import subprocess
import tempfile
from dataclasses import dataclass
from decimal import Decimal

import pikepdf
import pypdfium2
import zxingcpp
from babel.numbers import format_currency
from PIL.Image import Image
from pypdf import PdfReader


def plain(text: str) -> str:
    """Spaces as a reader compares them: no-break and narrow no-break spaces plain, runs as one."""
    return " ".join(text.replace("\u202f", " ").replace("\xa0", " ").split())


def money(value: Decimal | str, lang: str) -> str:
    """An amount in euro as the letter in `lang` prints it, plain-spaced (see `plain`)."""
    return plain(format_currency(Decimal(value), "EUR", locale=f"{lang}_BE"))


def pdf_text(pdf: bytes) -> str:
    """The text a reader gets back from the PDF, whitespace normalised."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join((page.extract_text() or "").split()) for page in reader.pages)


def qr_texts(image: Image) -> list[str]:
    """The text of every QR code in the image, as a banking app's camera reads it."""
    return [
        b.text for b in zxingcpp.read_barcodes(image) if b.format == zxingcpp.BarcodeFormat.QRCode
    ]


def qr_codes(pdf: bytes, *, scale: float = 2) -> list[str]:
    """The text of every QR code on the letter's pages, page by page.

    At 144 dpi (scale 2), less than a phone's photo of the page, a code printed too small fails
    here first. To show there is no code, `no_qr_code` reads closer.
    """
    found: list[str] = []
    for page in pypdfium2.PdfDocument(io.BytesIO(pdf)):
        found += qr_texts(page.render(scale=scale).to_pil())
    return found


def no_qr_code(pdf: bytes) -> bool:
    """No QR code on any page, read at 288 dpi: closer than any code could hide from."""
    return qr_codes(pdf, scale=4) == []


def struct_text(pdf: bytes) -> str:
    """The tagged structure with its text as poppler reads it (`pdfinfo -struct-text`)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        done = subprocess.run(
            ["pdfinfo", "-struct-text", f.name], capture_output=True, text=True, check=True
        )
    return done.stdout


def reading_order(pdf: bytes) -> str:
    """The text of the structure tree in reading order, whitespace normalised (no tags)."""
    quoted = re.findall(r'^\s*"(.*)"$', struct_text(pdf), flags=re.M)
    return " ".join(" ".join(quoted).split())


@dataclass(frozen=True)
class Tag:
    """One element of a PDF's structure tree, as an assistive technology sees it."""

    kind: str  # the structure type: P, H1, Table, TH, TD, Figure…
    alt: str  # alternative text (/Alt), empty if none
    headers: tuple[str, ...]  # a table cell's header cells (/A /Headers)


def struct_elements(pdf: bytes) -> list[Tag]:
    """Every element of the structure tree, depth first."""
    found: list[Tag] = []

    def walk(element: object) -> None:
        if not isinstance(element, pikepdf.Dictionary) or "/S" not in element:
            return
        attributes = element.get("/A")
        headers = attributes.get("/Headers") if isinstance(attributes, pikepdf.Dictionary) else None
        found.append(
            Tag(
                kind=str(element.S)[1:],
                alt=str(element.get("/Alt", "")),
                headers=tuple(str(h) for h in headers) if headers is not None else (),
            )
        )
        kids = element.get("/K")
        for kid in kids if isinstance(kids, pikepdf.Array) else [kids]:
            walk(kid)

    with pikepdf.open(io.BytesIO(pdf)) as doc:
        if "/StructTreeRoot" in doc.Root:
            for top in doc.Root.StructTreeRoot.K:
                walk(top)
    return found


MM_PER_PT = 25.4 / 72


@dataclass(frozen=True)
class Line:
    """One line of text as poppler lays it out: page (from 1), position in mm from the top left."""

    page: int
    top_mm: float
    bottom_mm: float
    left_mm: float
    text: str


def text_lines(pdf: bytes) -> list[Line]:
    """Every line of every page, in poppler's reading of the page (`pdftotext -bbox-layout`)."""
    with tempfile.NamedTemporaryFile(suffix=".pdf") as f:
        f.write(pdf)
        f.flush()
        done = subprocess.run(
            ["pdftotext", "-bbox-layout", f.name, "-"], capture_output=True, text=True, check=True
        )
    found: list[Line] = []
    for page, body in enumerate(re.findall(r"<page [^>]*>(.*?)</page>", done.stdout, re.S), 1):
        for attrs, words in re.findall(r"<line ([^>]*)>(.*?)</line>", body, re.S):
            box = {k: float(v) for k, v in re.findall(r'(\w+)="([\d.]+)"', attrs)}
            text = " ".join(
                html.unescape(w) for w in re.findall(r"<word [^>]*>(.*?)</word>", words)
            )
            found.append(
                Line(
                    page,
                    box["yMin"] * MM_PER_PT,
                    box["yMax"] * MM_PER_PT,
                    box["xMin"] * MM_PER_PT,
                    text,
                )
            )
    return found


def raw_text(pdf: bytes) -> str:
    """The text as pdfium extracts it, no-break spaces and line ends (CR LF) kept as they are."""
    document = pypdfium2.PdfDocument(pdf)
    try:
        return "\r\n".join(page.get_textpage().get_text_range() for page in document)
    finally:
        document.close()
