"""The Python and file doors: the same validation and idempotency as HTTP."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import redis

from comms.events import parse_event
from comms.service.intake import enqueue
from comms.service.jobs import BULK_QUEUE, URGENT_QUEUE
from comms.settings import Settings
from tests.commands import comms
from tests.service.conftest import PERSONAL, REPO, event


async def test_python_door_accepts_once_and_refuses_conflicts(service_settings: Settings) -> None:
    raw = event("formal-notice-nl", "py-door-00000001")
    first = await enqueue(parse_event(raw), settings=service_settings)
    assert (first.answer, first.queued, first.doc_type) == ("accepted", True, "formal_notice")
    again = await enqueue(json.dumps(raw), settings=service_settings)
    assert (again.answer, again.queued) == ("duplicate", False)
    changed = await enqueue({**raw, "dossier": "D-424242"}, settings=service_settings)
    assert changed.answer == "conflict"
    broken = await enqueue(
        {**raw, "event_id": "py-door-00000002", "type": "nope"}, settings=service_settings
    )
    assert broken.answer == "rejected" and broken.errors
    r = redis.Redis.from_url(service_settings.redis_url)
    assert r.zcard(URGENT_QUEUE) == 1 and r.zcard(BULK_QUEUE) == 0
    r.close()


def test_comms_enqueue_reports_every_line_and_queues_the_good_ones(
    service_settings: Settings, tmp_path: Path
) -> None:
    good = [event("tax-certificate-nl", f"file-door-{i:06d}") for i in range(3)]
    bad = event("tax-certificate-nl", "file-door-bad0001")
    bad["recipient"]["national_number"] = "85073003399"
    conflict = {**good[0], "dossier": "D-777777"}
    lines = [json.dumps(e) for e in (*good, bad, good[0], conflict)]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines[:3]) + "\n\n" + "\n".join(lines[3:]) + "\n", encoding="utf-8")

    env = {
        "COMMS_ENVIRONMENT": "test",
        "COMMS_DATA_DIR": str(service_settings.data_dir),
        "COMMS_REDIS_URL": service_settings.redis_url,
    }
    done = comms(tmp_path, "enqueue", str(path), env=env)
    assert done.returncode == 2, done.stderr
    # Line numbers count the blank line, as an editor shows them.
    assert "Accepted 3, duplicates 1, rejected 1 (lines 5), conflicts 1 (lines 7)" in done.stdout
    assert "line 5: recipient.national_number:" in done.stderr
    assert "6/6" in done.stderr  # the progress bar reached the end
    for value in (*PERSONAL, "85073003399"):
        assert value not in done.stdout + done.stderr
    r = redis.Redis.from_url(service_settings.redis_url)
    assert r.zcard(BULK_QUEUE) == 3
    r.close()

    rerun = comms(tmp_path, "enqueue", str(path), env=env)
    assert "Accepted 0, duplicates 4, rejected 1 (lines 5), conflicts 1 (lines 7)" in rerun.stdout


def test_bad_service_settings_stop_the_command_naming_the_variable_not_the_value() -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "COMMS_ENVIRONMENT": "test",
        "COMMS_WORKER_JOBS_BULK": "s3cr3t-ish",
    }
    done = subprocess.run(
        [sys.executable, "-m", "comms.cli", "worker"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "COMMS_WORKER_JOBS_BULK" in done.stderr and "s3cr3t-ish" not in done.stderr
