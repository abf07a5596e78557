"""WeasyPrint itself: PDF/A-3a with the PDF/UA claim, the assets-only fetcher, the window check.

Imported only when a process renders its first letter (comms.compose.pdf.DeferredPdf): loading
WeasyPrint costs about 0.7 s, which commands, the API and a worker's main process never need.
"""

from __future__ import annotations

import io
import threading
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse
from xml.etree.ElementTree import SubElement, fromstring, register_namespace, tostring

import pikepdf
import pydyf  # type: ignore[import-untyped]
import weasyprint
from weasyprint.pdf.metadata import DocumentMetadata
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

from comms.compose.pdf import (
    DEFLATE_LEVEL,
    MM_PER_CSS_PX,
    PDF_VARIANT,
    UNTAGGED_VARIANT,
    WindowLayout,
)
from comms.errors import RenderRefused

_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_PDFUAID = "http://www.aiim.org/pdfua/ns/id/"
# ISO 19005-3 §6.6.2.3: a schema PDF/A does not predefine is declared in the file itself; pdfuaid is
# one. The same declaration LibreOffice writes for its PDF/A + PDF/UA export.
_PDFUA_EXTENSION_SCHEMA = f"""\
<rdf:Description xmlns:rdf="{_RDF}" rdf:about=""
    xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
    xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
    xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
  <pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
    <pdfaSchema:schema>PDF/UA Universal Accessibility Schema</pdfaSchema:schema>
    <pdfaSchema:namespaceURI>{_PDFUAID}</pdfaSchema:namespaceURI>
    <pdfaSchema:prefix>pdfuaid</pdfaSchema:prefix>
    <pdfaSchema:property><rdf:Seq><rdf:li rdf:parseType="Resource">
      <pdfaProperty:name>part</pdfaProperty:name>
      <pdfaProperty:valueType>Integer</pdfaProperty:valueType>
      <pdfaProperty:category>internal</pdfaProperty:category>
      <pdfaProperty:description>Part of ISO 14289 the file conforms to</pdfaProperty:description>
    </rdf:li></rdf:Seq></pdfaSchema:property>
  </rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>"""


# The prefixes ISO 19005 names for the extension schema container, as WeasyPrint registers its own.
register_namespace("pdfaExtension", "http://www.aiim.org/pdfa/ns/extension/")
register_namespace("pdfaSchema", "http://www.aiim.org/pdfa/ns/schema#")
register_namespace("pdfaProperty", "http://www.aiim.org/pdfa/ns/property#")


class AccessibleMetadata(DocumentMetadata):  # type: ignore[misc]
    """WeasyPrint's PDF/A metadata plus the PDF/UA-1 claim (pdfuaid:part 1) in the same packet."""

    def generate_rdf_metadata(self, variant: str, version: int, conformance: str) -> bytes:
        # Both texts are ours: WeasyPrint's serialisation (values escaped) and the constant above.
        rdf = fromstring(super().generate_rdf_metadata(variant, version, conformance))  # noqa: S314
        claim = SubElement(rdf, f"{{{_RDF}}}Description")
        claim.attrib[f"{{{_RDF}}}about"] = ""
        claim.attrib[f"{{{_PDFUAID}}}part"] = "1"
        rdf.append(fromstring(_PDFUA_EXTENSION_SCHEMA))  # noqa: S314
        packet = tostring(rdf, encoding="utf-8")
        assert isinstance(packet, bytes)
        return packet


def address_overflow(document: weasyprint.Document) -> str | None:
    """Why the address does not fit its window, or None: a wrapped or clipped line misdirects mail.

    Every line of the window (the return address and the bpost lines, domain §8) is set on one
    line (`white-space: nowrap`) and measured here against the window's width and height. The
    reason names the line's position and the sizes, never its text.
    """
    window = next(
        (
            box
            for box in document.pages[0]._page_box.descendants()
            if box.element is not None
            and box.element_tag == "div"
            and "address-window" in (box.element.get("class") or "").split()
        ),
        None,
    )
    if window is None:
        return None
    right = window.content_box_x() + window.width
    bottom = window.content_box_y() + window.height
    width_mm = window.width * MM_PER_CSS_PX
    lines = [box for box in window.descendants() if type(box).__name__ == "LineBox"]
    for number, line in enumerate(lines, start=1):
        end = max((c.position_x + c.margin_width() for c in line.children), default=0.0)
        if end > right + 0.5:
            return (
                f"address line {number} of the window is {(end - window.content_box_x()) * MM_PER_CSS_PX:.1f} mm "
                f"wide, the envelope window {width_mm:.1f} mm: a line may not wrap or be cut "
                "(bpost); upstream must send it shorter, abbreviated as bpost allows"
            )
        if line.position_y + line.height > bottom + 0.5:
            return (
                f"the address needs {number} lines or more and does not fit the envelope window "
                f"({window.height * MM_PER_CSS_PX:.1f} mm high)"
            )
    return None


def footer_read_last(pdf: bytes) -> bytes:
    """The tagged PDF with the last page's footer at the end of its reading order (issue 16 §8).

    WeasyPrint tags what it draws in the page margins but leaves it out of the structure tree
    (PDF 1.7 cannot mark it as an artifact there), so a screen reader never met the footer, which
    carries the fund's details, the privacy notice and where to complain. It repeats on every page;
    the last page's copy is linked once, after the letter. The others stay outside the tree.
    """
    with pikepdf.open(io.BytesIO(pdf)) as doc:
        root = doc.Root.StructTreeRoot
        document = root.K[0]
        linked = {kid.objgen for kid in document.K}
        nums = root.ParentTree.Nums
        last_page = len(doc.pages) - 1
        marked = next(nums[i + 1] for i in range(0, len(nums), 2) if int(nums[i]) == last_page)
        for element in marked:
            top = element
            while top.P.objgen != document.objgen:
                top = top.P
            if top.objgen not in linked:
                linked.add(top.objgen)
                document.K.append(top)
        out = io.BytesIO()
        doc.save(out, fix_metadata_version=False, deterministic_id=True)  # same letter, same bytes
        return out.getvalue()


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


class PdfRenderer:
    """Reuses parsed CSS and loaded fonts across letters; reparses only when a stylesheet changes."""

    def __init__(self, shared_dir: Path, layout: WindowLayout, *, tagged: bool = True) -> None:
        self._shared = shared_dir.resolve()
        self._tagged = tagged
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
            overflow = address_overflow(document)
            if overflow is not None:
                raise RenderRefused(overflow)
            if self._tagged:
                document.metadata = AccessibleMetadata(**vars(document.metadata))
                pdf = footer_read_last(document.write_pdf(pdf_variant=PDF_VARIANT))
            else:
                pdf = document.write_pdf(pdf_variant=UNTAGGED_VARIANT)
        except FatalURLFetchingError as exc:
            raise RenderRefused(str(exc)) from None
        assert isinstance(pdf, bytes)
        return pdf, len(document.pages)
