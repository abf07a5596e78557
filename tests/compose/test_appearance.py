"""Speed levers keep the look: every sample's pages match the letter as it printed before issue 7."""

from __future__ import annotations

import re
from collections.abc import Callable

import pypdfium2
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image, ImageChops, ImageDraw, ImageOps

from comms.compose import Composer
from comms.doctypes import DOC_TYPES
from comms.events import AnyEvent, parse_event
from comms.payment import epc_qr
from comms.samples import all_samples
from tests.compose.conftest import ISSUED, SAMPLE_READERS, SampleLetters
from tests.readback import qr_texts

SAMPLES = sorted(all_samples(ISSUED).items())
pytestmark = SAMPLE_READERS
SCALE = 3.0  # 216 dpi: a changed digit shows as dozens of pixels (see the last test)
TOLERANCE = 64  # grey levels, of 255, beyond the neighbourhood's own range
MAX_PIXELS_OFF = 10  # per page; the QR code's module corners give up to 3, a changed digit 30+
# The letterhead and QR code as they were before issue 7, applied over the current stylesheet.
BEFORE_CSS = (
    "<style>"
    ".sender { display: flex !important; justify-content: space-between; align-items: flex-start; }"
    ".sender .fund, .sender .refs { float: none !important; }"
    '.payment .qr img[src^="data:image/svg"] { image-rendering: auto !important; }'
    "</style></head>"
)
PNG_URI = re.compile(r'src="data:image/png;base64,[^"]*"')


def pages(pdf: bytes) -> list[Image.Image]:
    return [
        page.render(scale=SCALE, grayscale=True).to_pil().convert("L")
        for page in pypdfium2.PdfDocument(pdf)
    ]


def around(
    image: Image.Image, pick: Callable[[Image.Image, Image.Image], Image.Image]
) -> Image.Image:
    """Each pixel made the darkest (`ImageChops.darker`) or lightest of its 3×3 neighbourhood.

    What `ImageFilter.MinFilter(3)` and `MaxFilter(3)` give, in row and column passes of whole-image
    operations (a fifth of their time); the page is padded with paper white, as its margins are.
    """
    padded = ImageOps.expand(image, border=1, fill=255)
    for dx, dy in ((1, 0), (-1, 0)):
        padded = pick(padded, ImageChops.offset(padded, dx, dy))
    for dx, dy in ((0, 1), (0, -1)):
        padded = pick(padded, ImageChops.offset(padded, dx, dy))
    return padded.crop((1, 1, image.width + 1, image.height + 1))


def pixels_off(a: Image.Image, b: Image.Image) -> int:
    """Pixels of `b` darker or lighter than every pixel around the same place in `a`.

    Anti-aliasing moves an edge by less than a pixel, so it stays inside the 3×3 range; a moved,
    missing or changed glyph does not.
    """
    low, high = around(a, ImageChops.darker), around(a, ImageChops.lighter)
    outside = ImageChops.lighter(ImageChops.subtract(b, high), ImageChops.subtract(low, b))
    return sum(outside.histogram()[TOLERANCE:])


def image_boxes(pdf: bytes) -> list[list[tuple[float, float, float, float]]]:
    """Per page, where the images are, in the pixels `pages` renders (the QR code is one)."""
    boxes = []
    for page in pypdfium2.PdfDocument(pdf):
        height = page.get_size()[1]
        boxes.append(
            [
                (
                    left * SCALE - 2,
                    (height - top) * SCALE - 2,
                    right * SCALE + 2,
                    (height - bottom) * SCALE + 2,
                )
                for left, bottom, right, top in (
                    o.get_bounds()
                    for o in page.get_objects([pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=5)
                )
            ]
        )
    return boxes


def codes_in(page: Image.Image, boxes: list[tuple[float, float, float, float]]) -> list[str]:
    """What a banking app reads in each image's place, with a quiet zone around it.

    Reading the images' places, not the whole page: a few milliseconds instead of a fifth of a second.
    """
    quiet = 12 * SCALE  # px: more than the four modules of white a QR code needs around it
    return [
        text
        for left, top, right, bottom in boxes
        for text in qr_texts(page.crop((left - quiet, top - quiet, right + quiet, bottom + quiet)))
    ]


def difference(before: bytes, after: bytes) -> list[int]:
    """Pixels off per page, the QR code aside: it must say the same, module for module.

    A bitmap QR code scaled without smoothing and the vector one it replaced differ by a pixel at
    module edges wherever the page position rounds badly (issue 16 moved the box), so the code is
    compared by what a banking app reads and the rest of the page pixel by pixel.
    """
    a, b = pages(before), pages(after)
    assert len(a) == len(b), f"{len(a)} pages before, {len(b)} after"
    for x, y, boxes in zip(a, b, image_boxes(after), strict=True):
        read = codes_in(y, boxes)
        assert len(read) == len(boxes)  # the letters' only images are their QR codes: each reads
        assert codes_in(x, boxes) == read
        for box in boxes:
            ImageDraw.Draw(x).rectangle(box, fill=255)
            ImageDraw.Draw(y).rectangle(box, fill=255)
    return [max(pixels_off(x, y), pixels_off(y, x)) for x, y in zip(a, b, strict=True)]


def before_issue_7(composer: Composer, event: AnyEvent) -> bytes:
    """The same letter with the flex letterhead and the QR code as an SVG path, as it was."""
    html = composer.render_texts(event, issued_on=ISSUED).letter_html
    # The QR code as an SVG, as before, in letters with one payment block; letters with one
    # block per debt keep their bitmaps (at some page offsets a bitmap and a vector differ by
    # more than anti-aliasing), so for them only the letterhead is compared.
    payable = DOC_TYPES[event.type].payable(event)
    if payable is not None:
        qr = epc_qr(
            beneficiary=payable.payment.beneficiary,
            iban=payable.payment.iban,
            bic=payable.payment.bic,
            amount=payable.amount,
            reference=payable.payment.structured_communication,
        )
        html = PNG_URI.sub(f'src="{qr.svg_data_uri(scale=4, border=0)}"', html, count=1)
    return composer.pdf_from_html(html.replace("</head>", BEFORE_CSS, 1))[0]


@pytest.mark.parametrize("name", [n for n, _ in SAMPLES])
def test_every_page_looks_as_before(
    composer: Composer, sample_letters: SampleLetters, name: str
) -> None:
    event, message = sample_letters[name]
    after = message.document.pdf
    assert max(difference(before_issue_7(composer, event), after)) <= MAX_PIXELS_OFF


def test_the_comparison_sees_a_changed_digit(composer: Composer) -> None:
    event = parse_event(dict(all_samples(ISSUED)["contribution-notice-nl"]))
    html = composer.render_texts(event, issued_on=ISSUED).letter_html
    assert "3.089,91" in html
    changed = composer.pdf_from_html(html.replace("3.089,91", "3.089,98"))[0]
    assert max(difference(composer.pdf_from_html(html)[0], changed)) > 2 * MAX_PIXELS_OFF
