"""`comms post …` and `comms bounces …` as operators run them: real files and exit codes; the servers
as real processes."""

from __future__ import annotations

import json
import mailbox
import signal
import smtplib
import socket
import subprocess
import time
from email import message_from_bytes
from pathlib import Path

import httpx
import pytest

from comms.ledger import Ledger
from comms.models import ChannelName, Status
from comms.samples import load_sample
from comms.settings import load_settings
from tests.commands import COMMS_ARGV, comms, process_env
from tests.net import HTTP, free_port

FIXTURES = Path(__file__).parent.parent / "channels" / "fixtures" / "dsn"
FIXTURE_CID = "5d1c0b7a9e3f4a2b8c6d0e1f2a3b4c5d"
TRACKING = "RR123456785BE"


def ledger(tmp_path: Path) -> Ledger:
    return Ledger.from_settings(load_settings(environment="test", data_dir=tmp_path / "var"))


def seed(tmp_path: Path, *names: str) -> None:
    """Samples through `comms process` (embedded stand-ins): the state operators start from."""
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join(json.dumps(load_sample(n)) for n in names) + "\n")
    result = comms(tmp_path, "process", str(events))
    assert result.returncode == 0, result.stderr


def post_cid(tmp_path: Path, event_id: str) -> str:
    found = [
        e.communication_id
        for e in ledger(tmp_path).history(event_id)
        if e.channel is ChannelName.POST and e.communication_id
    ]
    return found[0]


def test_batch_ack_and_returned_from_the_command_line(tmp_path: Path) -> None:
    """batch → files for the print shop; ack → dispatched/delivered; returned → returned."""
    seed(tmp_path, "formal-notice-nl", "decision-nl")

    cut = comms(tmp_path, "post", "batch")
    assert cut.returncode == 0, cut.stderr
    assert "batches: 1" in cut.stdout and "letters: 2" in cut.stdout
    batches = tmp_path / "var" / "outbox" / "post" / "batches"
    [manifest] = batches.glob("*.json")
    assert json.loads(manifest.read_text())["letters"] == 2

    notice, decision = (
        post_cid(tmp_path, "sample-formal-notice-nl"),
        post_cid(tmp_path, "sample-decision-nl"),
    )
    ack = tmp_path / "ack.csv"
    ack.write_text(
        "communication_id;event;date;tracking_number\n"
        f"{notice};posted;2027-01-06;{TRACKING}\n"
        f"{decision};posted;2027-01-06;\n"
        "unknown-id;posted;2027-01-06;\n"
    )
    acked = comms(tmp_path, "post", "ack", str(ack))
    assert acked.returncode == 2  # one line unusable, the others applied
    assert "recorded: 2" in acked.stdout
    assert "line 4: communication_id is in no batch" in acked.stderr
    assert "unknown-id" not in acked.stderr

    returns = tmp_path / "returns.csv"
    returns.write_text(
        f"communication_id,returned_on,reason\n{decision},2027-01-12,unknown_address\n"
    )
    back = comms(tmp_path, "post", "returned", str(returns))
    assert back.returncode == 0, back.stderr

    log = ledger(tmp_path)
    delivered = log.latest_for(notice)
    assert delivered is not None and delivered.status is Status.DELIVERED
    assert delivered.evidence["registered_tracking_number"] == TRACKING
    returned = log.latest_for(decision)
    assert returned is not None and returned.status is Status.RETURNED
    assert "address_flag" in returned.evidence
    assert log.verify().ok


def test_bounces_import_sends_the_letter_by_post(tmp_path: Path) -> None:
    """A DSN for the email `comms process` sent: bounced, then paper; other mail listed."""
    seed(tmp_path, "contribution-notice-nl")
    cid = emailed_cid(tmp_path)
    box = tmp_path / "bounces"
    box.mkdir()
    (box / "1.eml").write_bytes(
        (FIXTURES / "exchange-recipient-not-found.eml")
        .read_bytes()
        .replace(FIXTURE_CID.encode(), cid.encode())
    )
    (box / "2.eml").write_bytes((FIXTURES / "human-reply.eml").read_bytes())

    result = comms(tmp_path, "bounces", "import", str(box))

    assert result.returncode == 2  # the human reply is for a person to read
    assert "failed: 1" in result.stdout and "recorded: 1" in result.stdout
    assert "fallback for sample-contribution-notice-nl: sent" in result.stdout
    assert "2.eml: not a bounce" in result.stderr
    statuses = [
        (e.channel, e.status) for e in ledger(tmp_path).history("sample-contribution-notice-nl")
    ]
    assert (ChannelName.EMAIL, Status.BOUNCED) in statuses
    assert (ChannelName.POST, Status.DISPATCHED) in statuses


def emailed_cid(tmp_path: Path) -> str:
    """The communication id of the one email the SMTP sink received, from its Message-ID."""
    sink = mailbox.Maildir(tmp_path / "var" / "outbox" / "email", create=False)
    [sent] = [message_from_bytes(sink.get_bytes(k)) for k in sink.iterkeys()]
    return str(sent["Message-ID"]).strip("<>").split("@")[0]


def test_bounces_serve_receives_and_records(tmp_path: Path) -> None:
    """`comms bounces serve` as a process: a DSN over SMTP, recorded, then Ctrl-C stops it."""
    seed(tmp_path, "contribution-notice-nl")
    cid = emailed_cid(tmp_path)
    port = free_port()
    server = subprocess.Popen(
        [*COMMS_ARGV, "bounces", "serve", "--port", str(port)],
        cwd=tmp_path,
        env=process_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(
                        f"bounce server did not start: {server.stderr.read() if server.stderr else ''}"
                    )
                time.sleep(0.2)
        dsn = (
            (FIXTURES / "postfix-user-unknown.eml")
            .read_bytes()
            .replace(FIXTURE_CID.encode(), cid.encode())
        )
        with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
            smtp.sendmail("<>", ["bounces@fonds.example"], dsn.replace(b"\n", b"\r\n"))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    statuses = [
        (e.channel, e.status) for e in ledger(tmp_path).history("sample-contribution-notice-nl")
    ]
    assert (ChannelName.EMAIL, Status.BOUNCED) in statuses
    assert (ChannelName.POST, Status.DISPATCHED) in statuses


def test_the_ebox_simulator_command_serves_until_stopped(tmp_path: Path) -> None:
    """`comms ebox-simulator`: the registry stand-in answers on loopback; Ctrl-C stops it."""
    port = free_port()
    simulator = subprocess.Popen(
        [*COMMS_ARGV, "ebox-simulator", "--port", str(port)],
        cwd=tmp_path,
        env=process_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = HTTP.get(f"http://127.0.0.1:{port}/_sim/messages", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or simulator.poll() is not None:
                    pytest.fail("eBox simulator did not start")
                time.sleep(0.2)
        assert answer.status_code == 200 and answer.json() == []
    finally:
        simulator.send_signal(signal.SIGINT)
        assert simulator.wait(timeout=30) == 0
