"""The README's commands, run as a newcomer runs them: real files, real exit codes; `demo` and a bad
setting in a real process, the rest in this one (tests/commands.py)."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

from pypdf import PdfReader

from comms.app import build_ledger
from comms.samples import load_sample
from comms.settings import load_settings
from tests.commands import Ran, comms, comms_process
from tests.ledger.helpers import PERSON, accept, rewrite_history_from
from tests.readback import pdf_text


def test_demo_sends_every_sample_says_where_and_leaves_an_intact_log(tmp_path: Path) -> None:
    result = comms_process(tmp_path, "demo")
    assert result.returncode == 0, result.stderr
    assert "sent 18" in result.stdout
    for channel in ("email", "ebox", "post"):
        assert channel in result.stdout
    var = tmp_path / "var"
    assert len(list((var / "archive").rglob("*.pdf"))) >= 16
    assert len(list((var / "outbox" / "email" / "new").iterdir())) >= 1
    assert (var / "outbox" / "post" / "manifest.jsonl").read_text().count("\n") >= 3
    again = comms(tmp_path, "demo")  # the same data, in this process
    assert again.returncode == 0 and "duplicate 18" in again.stdout
    verified = comms(tmp_path, "ledger", "verify")  # what the demo left is an intact log
    assert verified.returncode == 0 and "intact" in verified.stdout


def test_process_reports_bad_lines_by_number_and_field_and_goes_on(tmp_path: Path) -> None:
    good = load_sample("tax-certificate-nl")
    bad = load_sample("contribution-notice-fr")
    bad["event_id"] = "upstream-bad-0001"
    bad["recipient"]["national_number"] = "84022711080"
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(bad) + "\n" + "{not json\n" + json.dumps(good) + "\n")
    result = comms(tmp_path, "process", str(events))
    assert result.returncode == 2
    assert "events.jsonl:1" in result.stderr and "recipient.national_number" in result.stderr
    assert "events.jsonl:2" in result.stderr
    assert "84022711080" not in result.stderr + result.stdout
    assert "sent 1" in result.stdout and "rejected 2" in result.stdout


def test_preview_writes_the_letter_and_the_email(tmp_path: Path) -> None:
    out = tmp_path / "decision.pdf"
    result = comms(
        tmp_path,
        "preview",
        "decision",
        "--lang",
        "fr",
        "--out",
        str(out),
        "--issued-on",
        "2027-01-04",
    )
    assert result.returncode == 0, result.stderr
    text = pdf_text(out.read_bytes())
    assert "tribunal du travail" in text.lower() and "4 janvier 2027" in text
    assert len(PdfReader(out).pages) >= 1
    html = tmp_path / "mail.html"
    assert comms(tmp_path, "preview", "contribution_notice", "--out", str(html)).returncode == 0
    assert "<html" in html.read_text()
    assert not (tmp_path / "var" / "comms.db").exists()  # a preview records nothing


def test_preview_never_renders_another_language(tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text(json.dumps(load_sample("decision-nl")))
    result = comms(
        tmp_path,
        "preview",
        "decision",
        "--lang",
        "fr",
        "--event",
        str(event),
        "--out",
        str(tmp_path / "x.pdf"),
    )
    assert result.returncode == 1 and "never rendered in another language" in result.stderr


def test_schema_is_json_schema_of_every_type(tmp_path: Path) -> None:
    result = comms(tmp_path, "schema")
    schema = json.loads(result.stdout)
    assert "discriminator" in json.dumps(schema) and "formal_notice" in result.stdout


def test_seal_key_rotation_from_the_command_line(tmp_path: Path) -> None:
    data = tmp_path / "var"
    with build_ledger(load_settings(data_dir=data)) as ledger:  # no key: the derived one
        for n in range(4):
            accept(ledger, f"evt-seal-{n:04d}")
    made = comms(tmp_path, "ledger", "new-seal-key", "2027a")
    assert made.returncode == 0, made.stderr
    line = made.stdout.strip()
    assert line.startswith("2027a:") and len(line.splitlines()) == 1
    assert comms(tmp_path, "ledger", "new-seal-key", "Not.An.Id").returncode == 1

    def with_key(*args: str) -> Ran:
        return comms(tmp_path, *args, env={"COMMS_SEAL_KEYS": line})

    dry = with_key("ledger", "reseal", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Event snapshots by seal key: derived 4" in dry.stdout
    assert re.search(r"Would reseal with key '2027a:[0-9a-f]{8}': 4 snapshots", dry.stdout)
    done = with_key("ledger", "reseal")
    assert re.search(r"Resealed with key '2027a:[0-9a-f]{8}': 4 snapshots", done.stdout)
    assert "older keys may be removed" in done.stdout
    assert line.split(":", 1)[1] not in done.stdout + done.stderr
    assert "intact" in with_key("ledger", "verify").stdout
    with build_ledger(load_settings(data_dir=data, seal_keys=line)) as ledger:
        for n in range(4):  # every snapshot opens with the new key alone
            assert PERSON in (ledger.event_snapshot(f"evt-seal-{n:04d}") or "")
    assert comms(tmp_path, "ledger", "reseal", "--dry-run").returncode == 1  # the key is needed


def test_a_malformed_setting_is_named_without_its_value(tmp_path: Path) -> None:
    secret_part = base64.b64encode(b"k" * 20).decode()  # 20 bytes: too short for a seal key
    settings = {
        "COMMS_HMAC_SECRET": "hmac-secret-that-must-not-show",
        "COMMS_SEAL_KEYS": f"2027a:{secret_part}",
    }
    result = comms_process(tmp_path, "ledger", "reseal", "--dry-run", env=settings)
    assert result.returncode == 1
    assert "COMMS_SEAL_KEYS key '2027a': expected 32 random bytes" in result.stderr
    for value in (secret_part, secret_part[-12:], "hmac-secret-that-must-not-show", "hmac-secr"):
        assert value not in result.stdout + result.stderr


def test_checkpoints_from_the_command_line(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "var")
    with build_ledger(settings) as ledger:
        for n in range(3):
            accept(ledger, f"evt-ckpt-{n:04d}")
    kept = tmp_path / "worm" / "checkpoints.jsonl"
    kept.parent.mkdir()
    made = comms(tmp_path, "ledger", "checkpoint", "--append", str(kept))
    assert made.returncode == 0, made.stderr
    line = made.stdout.strip()
    assert kept.read_text() == line + "\n" and json.loads(line)["seq"] == 3

    agreed = comms(tmp_path, "ledger", "verify", "--checkpoints", str(kept))
    assert agreed.returncode == 0 and "Checkpoints: 1 agree with the log" in agreed.stdout

    with build_ledger(settings) as ledger:
        rewrite_history_from(ledger.engine, 2)
    caught = comms(tmp_path, "ledger", "verify", "--checkpoints", str(kept))
    assert "Ledger intact" in caught.stdout  # the chain alone is fooled
    assert caught.returncode == 1
    assert "Checkpoint line 1 disagrees (entries): row 3 now hashes to" in caught.stderr

    kept.write_text(line + "\nnot a checkpoint\n")
    unreadable = comms(tmp_path, "ledger", "verify", "--checkpoints", str(kept))
    assert unreadable.returncode == 1 and "line 2: not a checkpoint line" in unreadable.stderr

    kept.write_text("\n")
    empty = comms(tmp_path, "ledger", "verify", "--checkpoints", str(kept))
    assert empty.returncode == 1 and "holds no checkpoint" in empty.stderr

    kept.write_text(line)  # its last line lacks a newline: the next is not glued to it
    again = comms(tmp_path, "ledger", "checkpoint", "--append", str(kept))
    assert again.returncode == 0, again.stderr
    assert kept.read_text().splitlines() == [line, again.stdout.strip()]

    nowhere = tmp_path / "no-such-folder" / "checkpoints.jsonl"
    lost = comms(tmp_path, "ledger", "checkpoint", "--append", str(nowhere))
    assert lost.returncode == 1 and "Could not append" in lost.stderr
    printed = json.loads(lost.stdout)  # the line is printed all the same
    assert printed["row_hash"] == json.loads(again.stdout)["row_hash"]
