"""PostChannel: the print outbox on a real filesystem."""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from channels.base import Outgoing, PermanentError
from channels.post import PostChannel


@pytest.fixture
async def post(tmp_path: Path) -> PostChannel:
    channel = PostChannel(outbox_dir=tmp_path / "outbox")
    await channel.open()
    return channel


async def test_letter_and_manifest_line_are_written(
    post: PostChannel, make_outgoing: Callable[..., Outgoing], pdf: bytes
) -> None:
    """A registered reminder lands in the outbox with its manifest line."""
    receipt = await post.send(make_outgoing(registered=True))

    pdf_path = post.outbox_dir / "c0ffee0123456789.pdf"
    assert pdf_path.read_bytes() == pdf
    assert receipt.outcome == "dispatched"
    assert receipt.evidence == {"outbox_file": str(pdf_path), "registered": "true"}
    [line] = (post.outbox_dir / "manifest.jsonl").read_text(encoding="utf-8").splitlines()
    entry = json.loads(line)
    assert entry["communication_id"] == "c0ffee0123456789"
    assert entry["pages"] == 2
    assert entry["registered"] is True
    assert entry["address_lines"] == ["Anna Peeters", "Kerkstraat 12 bus 3", "2000 Antwerpen"]
    assert entry["postcode"] == "2000"
    assert entry["sha256"] == hashlib.sha256(pdf).hexdigest()
    assert entry["written_at"].endswith("+00:00")
    assert [e.communication_id for e in post.entries()] == ["c0ffee0123456789"]
    assert not [p for p in post.outbox_dir.iterdir() if p.name.startswith(".tmp-")]


async def test_same_letter_twice_is_a_no_op(
    post: PostChannel, make_outgoing: Callable[..., Outgoing]
) -> None:
    """A retried job spools nothing new and gets the same receipt."""
    first = await post.send(make_outgoing())
    second = await post.send(make_outgoing())

    assert second == first
    assert len(list(post.entries())) == 1


async def test_concurrent_duplicates_write_one_line(
    post: PostChannel, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Two workers racing on the same communication leave one manifest line."""
    receipts = await asyncio.gather(*(post.send(make_outgoing()) for _ in range(5)))

    assert all(r == receipts[0] for r in receipts)
    assert len(list(post.entries())) == 1


async def test_different_bytes_under_the_same_id_are_refused(
    post: PostChannel,
    make_outgoing: Callable[..., Outgoing],
    pdf_factory: Callable[[int], bytes],
) -> None:
    """The id ties to one document version: another PDF under it is a bug, not a retry."""
    outgoing = make_outgoing()
    await post.send(outgoing)
    other = replace(outgoing.document, content=pdf_factory(3))

    with pytest.raises(PermanentError):
        await post.send(replace(outgoing, document=other))
    assert len(list(post.entries())) == 1


async def test_crash_before_the_manifest_line_is_repaired(
    post: PostChannel, make_outgoing: Callable[..., Outgoing], pdf: bytes
) -> None:
    """The PDF made it but the manifest line did not: the retry adds the line."""
    (post.outbox_dir / "c0ffee0123456789.pdf").write_bytes(pdf)

    await post.send(make_outgoing())

    assert [e.communication_id for e in post.entries()] == ["c0ffee0123456789"]


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"to": {"postal_lines": ("Anna Peeters", "2000 Antwerpen")}}, "3 non-empty lines"),
        ({"communication_id": "../escape"}, "file name"),
    ],
)
async def test_unprintable_letters_are_refused(
    post: PostChannel,
    make_outgoing: Callable[..., Outgoing],
    overrides: dict[str, object],
    reason: str,
) -> None:
    """An incomplete address or an unsafe id never reaches the outbox."""
    with pytest.raises(PermanentError, match=reason):
        await post.send(make_outgoing(**overrides))
    assert list(post.entries()) == []


async def test_a_non_pdf_is_refused(
    post: PostChannel, make_outgoing: Callable[..., Outgoing]
) -> None:
    """The print shop takes PDFs only."""
    outgoing = make_outgoing()
    broken = replace(outgoing.document, content=b"%PDF-1.7 but nothing else")

    with pytest.raises(PermanentError, match="readable"):
        await post.send(replace(outgoing, document=broken))
