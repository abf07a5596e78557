"""Logs are JSON and keep no personal data, whoever writes them (our code or a library)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from comms.logging import configure_logging, get_logger, is_personal_key


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    out = io.StringIO()
    root = logging.getLogger()
    before = (list(root.handlers), root.level)
    configure_logging("INFO", "json", stream=out)
    try:
        yield out
    finally:
        root.handlers[:] = before[0]
        root.setLevel(before[1])
        structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_personal_keys_are_dropped_and_free_text_is_scrubbed(stream: io.StringIO) -> None:
    get_logger("comms.test").info(
        "letter for an.peeters@example.org",
        event_id="evt-00000001",
        name="An Peeters",
        recipient_email="an.peeters@example.org",
        nationalNumber="85073003328",
        amount="812.34",
        note="member 85.07.30-033.28 asked",
    )
    (entry,) = lines(stream)
    assert entry["event_id"] == "evt-00000001" and entry["level"] == "info"
    assert entry["redacted"] == ["amount", "name", "nationalNumber", "recipient_email"]
    assert entry["event"] == "letter for <address>" and entry["note"] == "member <number> asked"
    text = stream.getvalue()
    for value in ("An Peeters", "an.peeters", "85073003328", "812.34", "85.07.30"):
        assert value not in text


def test_library_logs_go_through_the_same_filter(stream: io.StringIO) -> None:
    logging.getLogger("arq.worker").warning("smtp said 550 <jan@example.be> unknown")
    (entry,) = lines(stream)
    assert entry["logger"] == "arq.worker" and entry["event"] == "smtp said 550 <<address>> unknown"


def test_what_counts_as_personal() -> None:
    assert all(map(is_personal_key, ["email", "IBAN", "postcode", "payerIban", "token"]))
    assert not any(map(is_personal_key, ["event_id", "queue", "doc_type", "channel", "count"]))
