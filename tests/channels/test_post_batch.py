"""Print batches: merged PDFs read back, sorted by postcode, blank backs, manifests that match."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pikepdf
import pytest
from pypdf import PageObject, PdfReader, PdfWriter
from pypdf.generic import (
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
)

from channels.base import Outgoing
from channels.post import PostChannel
from channels.post_batch import (
    INDEX,
    STAGING_DIR,
    BatchError,
    Envelope,
    PrintBatcher,
)

NOW = datetime(2027, 1, 4, 15, 0, tzinfo=UTC)
# (label, pages, postcode, registered): spooled in this order, printed in postcode order.
LETTERS = [
    ("GENT", 1, "9000", False),
    ("BRUSSEL", 2, "1000", True),
    ("KORTRIJK", 3, "8500", False),
    ("ANTWERPEN", 1, "2000", False),
    ("PARIS", 4, "75001", False),  # abroad: after the Belgian postcodes
]


def labelled_pdf(label: str, pages: int) -> bytes:
    """A letter whose every page says `label p/n`, so the merged batch can be read back."""
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    for n in range(1, pages + 1):
        page = PageObject.create_blank_page(width=595, height=842)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font})}
        )
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 770 Td ({label} {n}/{pages}) Tj ET".encode())
        page[NameObject("/Contents")] = writer._add_object(stream)
        writer.add_page(page)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


async def spool(
    outbox: Path, make_outgoing: Callable[..., Outgoing], letters=LETTERS
) -> dict[str, str]:
    """Spools the letters through the real PostChannel; label → communication id."""
    post = PostChannel(outbox_dir=outbox)
    ids = {}
    for n, (label, pages, postcode, registered) in enumerate(letters):
        base = make_outgoing()
        outgoing = replace(
            base,
            communication_id=f"{n:02d}{label.lower()}",
            document=replace(base.document, content=labelled_pdf(label, pages)),
            to=replace(
                base.to,
                postal_lines=(f"{label} member", "Straat 1", f"{postcode} {label.title()}"),
                postcode=postcode,
            ),
            registered=registered,
        )
        await post.send(outgoing)
        ids[label] = outgoing.communication_id
    return ids


def page_texts(pdf: bytes) -> list[str]:
    return [(p.extract_text() or "").strip() for p in PdfReader(io.BytesIO(pdf)).pages]


async def test_a_duplex_batch_reads_back_as_its_manifest_says(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Pages = letters' pages + a blank back after each odd one; order and manifest agree."""
    ids = await spool(tmp_path, make_outgoing)
    [batch] = PrintBatcher(tmp_path, clock=lambda: NOW).cut(force=True)

    folder = tmp_path / "batches"
    pdf = (folder / f"{batch.batch_id}.pdf").read_bytes()
    texts = page_texts(pdf)
    letter_pages = sum(pages for _, pages, _, _ in LETTERS)
    blank_backs = sum(1 for _, pages, _, _ in LETTERS if pages % 2)
    assert len(texts) == letter_pages + blank_backs == batch.pages == 14
    with pikepdf.open(folder / f"{batch.batch_id}.pdf") as second_opinion:  # another parser
        assert len(second_opinion.pages) == 14

    manifest = json.loads((folder / f"{batch.batch_id}.json").read_text(encoding="utf-8"))
    assert {p.stat().st_mode & 0o777 for p in folder.iterdir()} == {0o640}  # the shop can read
    assert manifest["batch_id"] == batch.batch_id == "20270104-150000-01"
    assert (manifest["letters"], manifest["pages"], manifest["sheets"]) == (5, 14, 7)
    order = ["BRUSSEL", "ANTWERPEN", "KORTRIJK", "GENT", "PARIS"]
    assert [i["communication_id"] for i in manifest["items"]] == [ids[x] for x in order]
    for item, label in zip(manifest["items"], order, strict=True):
        first = item["first_page"] - 1
        assert texts[first] == f"{label} 1/{item['pages']}"
        assert texts[first + item["pages"] - 1] == f"{label} {item['pages']}/{item['pages']}"
        if item["blank_backs"]:
            assert texts[first + item["pages"]] == ""
        assert item["sheets"] * 2 == item["pages"] + item["blank_backs"]
        assert item["envelope"] == "DL"
    assert [i["registered"] for i in manifest["items"]] == [True, False, False, False, False]

    rows = list(csv.DictReader(io.StringIO((folder / f"{batch.batch_id}.csv").read_text())))
    assert [r["communication_id"] for r in rows] == [
        i["communication_id"] for i in manifest["items"]
    ]
    assert [int(r["first_page"]) for r in rows] == [i["first_page"] for i in manifest["items"]]
    assert rows[0]["registered"] == "yes" and rows[0]["address_1"] == "BRUSSEL member"
    assert rows[0]["address_3"] == "1000 Brussel" and rows[0]["address_4"] == ""
    assert [u.evidence["print_sequence"] for u in batch.status_updates()] == [
        "1",
        "2",
        "3",
        "4",
        "5",
    ]


async def test_simplex_has_no_blank_backs_and_thick_letters_go_flat(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """One side per sheet: sheets = pages; more sheets than a DL holds: the larger envelope."""
    await spool(tmp_path, make_outgoing, [("DIK", 7, "3000", False), ("DUN", 1, "3001", False)])
    batcher = PrintBatcher(
        tmp_path, duplex=False, envelopes=[Envelope("DL", 5), Envelope("C4", 50)]
    )
    [batch] = batcher.cut(force=True)

    assert len(page_texts((tmp_path / "batches" / f"{batch.batch_id}.pdf").read_bytes())) == 8
    assert [(i.sheets, i.blank_backs, i.envelope) for i in batch.items] == [
        (7, 0, "C4"),
        (1, 0, "DL"),
    ]


async def test_cut_on_size_waits_for_full_batches_and_the_schedule_takes_the_rest(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Size: only full batches; schedule (force): whatever is left; nothing is batched twice."""
    await spool(tmp_path, make_outgoing)
    batcher = PrintBatcher(tmp_path, max_letters=2, clock=lambda: NOW)

    by_size = batcher.cut(force=False)
    assert [len(b.items) for b in by_size] == [2, 2]
    assert [i.postcode for b in by_size for i in b.items] == ["1000", "2000", "8500", "9000"]
    assert len(batcher.pending()) == 1
    assert batcher.cut(force=False) == []
    [rest] = batcher.cut(force=True)
    assert [i.postcode for i in rest.items] == ["75001"]
    assert batcher.cut(force=True) == []
    placed = batcher.placed()
    assert len(placed) == len({p.communication_id for p in placed}) == 5
    assert len({b.batch_id for b in [*by_size, rest]}) == 3
    index = batcher.index()
    assert index.locate(rest.batch_id, 1) == index.find(rest.items[0].communication_id)


async def test_a_crash_after_the_commit_is_finished_by_the_next_cut(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Committed but not moved into place: the next cut publishes it, and cuts nothing new."""
    await spool(tmp_path, make_outgoing)
    batcher = PrintBatcher(tmp_path, clock=lambda: NOW)
    original = PrintBatcher._publish

    def crash(self: PrintBatcher, batch_id: str) -> None:
        raise OSError("power cut")

    monkeypatch.setattr(PrintBatcher, "_publish", crash)
    with pytest.raises(OSError):
        batcher.cut(force=True)
    assert not (tmp_path / "batches").exists()
    monkeypatch.setattr(PrintBatcher, "_publish", original)

    assert batcher.cut(force=True) == []
    assert sorted(p.name for p in (tmp_path / "batches").iterdir()) == [
        "20270104-150000-01.csv",
        "20270104-150000-01.json",
        "20270104-150000-01.pdf",
    ]
    assert not any((tmp_path / STAGING_DIR).iterdir())


async def test_a_crash_before_the_commit_leaves_nothing_and_a_torn_index_line_is_ignored(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not committed: no batch exists, the letters are cut again whole."""
    await spool(tmp_path, make_outgoing)
    batcher = PrintBatcher(tmp_path, clock=lambda: NOW)

    def crash(self: PrintBatcher, batch: object) -> None:
        with (tmp_path / INDEX).open("a") as index:
            index.write('{"batch_id": "torn')  # half a line, then the power went
        raise OSError("power cut")

    with monkeypatch.context() as patch:
        patch.setattr(PrintBatcher, "_commit", crash)
        with pytest.raises(OSError):
            batcher.cut(force=True)
    assert batcher.placed() == [] and len(batcher.pending()) == 5

    [batch] = batcher.cut(force=True)
    assert len(batch.items) == 5 and len(batcher.placed()) == 5
    assert [p.name for p in (tmp_path / "batches").iterdir() if p.suffix == ".json"] == [
        f"{batch.batch_id}.json"
    ]


async def test_an_altered_spooled_letter_stops_the_cut(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """The batch prints exactly what was spooled, or nothing."""
    ids = await spool(tmp_path, make_outgoing)
    (tmp_path / f"{ids['GENT']}.pdf").write_bytes(labelled_pdf("OTHER", 1))

    with pytest.raises(BatchError, match="altered"):
        PrintBatcher(tmp_path).cut(force=True)
    assert PrintBatcher(tmp_path).placed() == []
