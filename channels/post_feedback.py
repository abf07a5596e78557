"""Read the print shop's files: acknowledgements (printed, posted, tracking numbers) and returns.

Both are CSV (RFC 4180, header row, `,` or `;`), one line per letter, naming it by communication
id or by batch and sequence. Lines that cannot be read are reported by line number and column,
never with their values (they may hold addresses), and do not stop the rest.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections.abc import Callable, Mapping
from datetime import date, datetime

from channels.base import ChannelState, FileFeedback, Problem, StatusUpdate, placement
from channels.post_batch import Placed, PrintBatcher

# Return reasons on bpost's return label, in our own codes. Refused and not collected mean the
# address is right (and registered mail counts as served): only the others flag the address.
RETURN_REASONS = {
    "unknown_address": True,  # addressee unknown at this address (onbekend / inconnu)
    "moved": True,  # moved away (verhuisd / déménagé)
    "incomplete_address": True,  # address insufficient (onvolledig / insuffisante)
    "no_letterbox": True,  # no letterbox or name on it (geen bus / pas de boîte)
    "refused": False,  # refused by the addressee (geweigerd / refusé)
    "not_collected": False,  # registered mail not collected at the post office (niet afgehaald)
    "other": True,
}
# `presented`: the carrier presented registered mail at the address; its date is the day the
# member is deemed notified (art. 53bis, 1° Judicial Code; docs/notification.md).
ACK_EVENTS: dict[str, ChannelState] = {
    "printed": "dispatched",
    "posted": "delivered",
    "presented": "delivered",
}
# UPU S10 item identifier: 2 letters, 8 digits, a check digit, the 2-letter country (bpost: BE).
_S10_RE = re.compile(r"^[A-Z]{2}(\d{8})(\d)[A-Z]{2}$")
_S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)

Locate = Callable[[str, int], Placed | None]
Find = Callable[[str], Placed | None]


def valid_s10(tracking: str) -> bool:
    """UPU S10 check digit: 11 - (weighted sum mod 11), 10 → 0 and 11 → 5."""
    found = _S10_RE.match(tracking)
    if found is None:
        return False
    total = sum(int(d) * w for d, w in zip(found.group(1), _S10_WEIGHTS, strict=True))
    check = 11 - total % 11
    check = {10: 0, 11: 5}.get(check, check)
    return check == int(found.group(2))


def read_acknowledgements(content: bytes, *, locate: Locate, find: Find) -> FileFeedback:
    """`batch_id, sequence, communication_id, event (printed|posted|presented), date, tracking_number`."""
    file_sha = hashlib.sha256(content).hexdigest()
    feedback = FileFeedback()
    for line, row in _rows(content, feedback):
        try:
            placed = _letter(row, locate, find)
            event = row.get("event", "").strip().lower()
            if event not in ACK_EVENTS:
                raise _Bad("event must be printed, posted or presented")
            when = _date(row.get("date", ""), "date")
            tracking = row.get("tracking_number", "").strip().upper()
            evidence = {
                **placement(placed.batch_id, placed.sequence),
                f"{event}_on": when,
                "ack_file_sha256": file_sha,
            }
            if tracking:
                if not valid_s10(tracking):
                    raise _Bad("tracking_number is not a valid registered-mail number (UPU S10)")
                evidence["registered_tracking_number"] = tracking
            elif event == "posted" and placed.registered:
                raise _Bad("a registered letter was posted without its tracking number")
        except _Bad as bad:
            feedback.problems.append(Problem(line, str(bad)))
            continue
        feedback.updates.append(
            StatusUpdate("post", placed.communication_id, ACK_EVENTS[event], evidence)
        )
    return feedback


def read_returns(content: bytes, *, locate: Locate, find: Find) -> FileFeedback:
    """`batch_id, sequence, communication_id, returned_on, reason` (see RETURN_REASONS)."""
    file_sha = hashlib.sha256(content).hexdigest()
    feedback = FileFeedback()
    for line, row in _rows(content, feedback):
        try:
            placed = _letter(row, locate, find)
            reason = row.get("reason", "").strip().lower() or "other"
            if reason not in RETURN_REASONS:
                raise _Bad(f"reason must be one of {', '.join(RETURN_REASONS)}")
            evidence = {
                **placement(placed.batch_id, placed.sequence),
                "returned_on": _date(row.get("returned_on", ""), "returned_on"),
                "return_reason": reason,
                "address_wrong": str(RETURN_REASONS[reason]).lower(),
                "returns_file_sha256": file_sha,
            }
        except _Bad as bad:
            feedback.problems.append(Problem(line, str(bad)))
            continue
        feedback.updates.append(StatusUpdate("post", placed.communication_id, "returned", evidence))
    return feedback


class PrintShopFiles:
    """The print shop's files read against our own batches (channels.base.PrintShopFeedback)."""

    def __init__(self, batcher: PrintBatcher) -> None:
        self._batcher = batcher

    # The batch index is read once per file, not once per line: it holds every letter batched.
    def acknowledgements(self, content: bytes) -> FileFeedback:
        index = self._batcher.index()
        return read_acknowledgements(content, locate=index.locate, find=index.find)

    def returns(self, content: bytes) -> FileFeedback:
        index = self._batcher.index()
        return read_returns(content, locate=index.locate, find=index.find)


class _Bad(Exception):
    pass


def _rows(content: bytes, feedback: FileFeedback) -> list[tuple[int, Mapping[str, str]]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        feedback.problems.append(Problem(0, "the file is not UTF-8"))
        return []
    delimiter = (
        ";" if text.partition("\n")[0].count(";") > text.partition("\n")[0].count(",") else ","
    )
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    if reader.fieldnames is None:
        return []
    reader.fieldnames = [name.strip().lower() for name in reader.fieldnames]
    rows: list[tuple[int, Mapping[str, str]]] = []
    for row in reader:
        values = {k: (v or "") for k, v in row.items() if isinstance(k, str)}
        if any(v.strip() for v in values.values()):
            rows.append((reader.line_num, values))
    return rows


def _letter(row: Mapping[str, str], locate: Locate, find: Find) -> Placed:
    """By communication id, or by batch and sequence; both given must agree."""
    cid = row.get("communication_id", "").strip()
    batch = row.get("batch_id", "").strip()
    sequence = row.get("sequence", "").strip()
    by_place: Placed | None = None
    if batch or sequence:
        if not (batch and sequence.isdigit()):
            raise _Bad("batch_id and a numeric sequence go together")
        by_place = locate(batch, int(sequence))
        if by_place is None:
            raise _Bad("no such batch and sequence")
    if cid:
        by_id = find(cid)
        if by_id is None:
            raise _Bad("communication_id is in no batch")
        if by_place is not None and by_place != by_id:
            raise _Bad("communication_id and batch/sequence name different letters")
        return by_id
    if by_place is None:
        raise _Bad("communication_id or batch_id and sequence are required")
    return by_place


def _date(value: str, column: str) -> str:
    """A date (YYYY-MM-DD) or an ISO 8601 timestamp, as given."""
    value = value.strip()
    try:
        if "T" in value:
            datetime.fromisoformat(value)
        else:
            date.fromisoformat(value)
    except ValueError:
        raise _Bad(f"{column} must be YYYY-MM-DD or an ISO 8601 timestamp") from None
    return value
