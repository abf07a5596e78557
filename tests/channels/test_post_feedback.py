"""The print shop's acknowledgements and returned mail, read into status updates."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from channels.base import Outgoing
from channels.post_batch import PrintBatcher
from channels.post_feedback import PrintShopFiles, valid_s10
from tests.channels.test_post_batch import spool

TRACKING = "RR123456785BE"  # a valid UPU S10 number (check digit 5)


async def batched(tmp_path: Path, make_outgoing: Callable[..., Outgoing]) -> PrintBatcher:
    await spool(tmp_path, make_outgoing)
    batcher = PrintBatcher(tmp_path)
    batcher.cut(force=True)
    return batcher


async def test_printed_and_posted_by_id_or_by_place(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Either way of naming a letter works; a registered letter carries its tracking number."""
    batcher = await batched(tmp_path, make_outgoing)
    first, second = batcher.placed()[:2]  # BRUSSEL (registered), ANTWERPEN
    content = (
        "batch_id;sequence;communication_id;event;date;tracking_number\n"
        f"{first.batch_id};1;;printed;2027-01-05;\n"
        f";;{second.communication_id};printed;2027-01-05;\n"
        f"{first.batch_id};1;{first.communication_id};posted;2027-01-06T10:15:00+01:00;{TRACKING}\n"
    ).encode()

    feedback = PrintShopFiles(batcher).acknowledgements(content)

    assert feedback.problems == []
    assert [(u.communication_id, u.outcome) for u in feedback.updates] == [
        (first.communication_id, "dispatched"),
        (second.communication_id, "dispatched"),
        (first.communication_id, "delivered"),
    ]
    posted = feedback.updates[2].evidence
    assert posted["registered_tracking_number"] == TRACKING
    assert posted["posted_on"] == "2027-01-06T10:15:00+01:00"
    assert posted["print_batch"] == first.batch_id and posted["print_sequence"] == "1"


async def test_bad_lines_are_reported_by_number_without_values_and_the_rest_is_used(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """One bad line does not stop the file; the message never echoes what was in it."""
    batcher = await batched(tmp_path, make_outgoing)
    registered, plain = batcher.placed()[:2]
    content = (
        "batch_id,sequence,communication_id,event,date,tracking_number\n"
        f"{registered.batch_id},1,,posted,2027-01-06,\n"  # registered without tracking number
        f"{plain.batch_id},2,,posted,2027-01-06,RR123456784BE\n"  # wrong check digit
        f"{plain.batch_id},2,{registered.communication_id},printed,2027-01-05,\n"  # disagree
        "NOPE,9,,printed,2027-01-05,\n"
        f"{plain.batch_id},2,,delivered,2027-01-05,\n"
        f"{plain.batch_id},2,,printed,05/01/2027,\n"
        f"{plain.batch_id},2,,printed,2027-01-05,\n"
    ).encode()

    feedback = PrintShopFiles(batcher).acknowledgements(content)

    assert [str(p) for p in feedback.problems] == [
        "line 2: a registered letter was posted without its tracking number",
        "line 3: tracking_number is not a valid registered-mail number (UPU S10)",
        "line 4: communication_id and batch/sequence name different letters",
        "line 5: no such batch and sequence",
        "line 6: event must be printed, posted or presented",
        "line 7: date must be YYYY-MM-DD or an ISO 8601 timestamp",
    ]
    assert [u.communication_id for u in feedback.updates] == [plain.communication_id]


async def test_returns_say_whether_the_address_is_wrong(
    tmp_path: Path, make_outgoing: Callable[..., Outgoing]
) -> None:
    """Moved away flags the address; refused does not (the address was right)."""
    batcher = await batched(tmp_path, make_outgoing)
    first, second = batcher.placed()[:2]
    content = (
        "communication_id,returned_on,reason\n"
        f"{first.communication_id},2027-01-12,refused\n"
        f"{second.communication_id},2027-01-13,moved\n"
        f"{second.communication_id},2027-01-13,deceased\n"
    ).encode()

    feedback = PrintShopFiles(batcher).returns(content)

    assert [
        (u.outcome, u.evidence["return_reason"], u.evidence["address_wrong"])
        for u in feedback.updates
    ] == [
        ("returned", "refused", "false"),
        ("returned", "moved", "true"),
    ]
    assert [p.line for p in feedback.problems] == [4]


def test_s10_check_digits() -> None:
    assert valid_s10(TRACKING) and valid_s10("RR473109265BE")
    assert not valid_s10("RR473109264BE") and not valid_s10("rr473109265be")
