"""Render processes outliving a killed worker write JSON lines, never a plain-text traceback."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

from comms.settings import REPO_ROOT
from tests.compose.killed_render import FORKED_WARM
from tests.service.conftest import wait_for
from tests.service.test_render_processes import alive, descendants


def test_a_killed_workers_render_process_logs_json_lines_only(tmp_path: Path) -> None:
    log = tmp_path / "worker.log"
    with log.open("wb") as stderr:
        parent = subprocess.Popen(
            [sys.executable, "-m", "tests.compose.killed_render", str(tmp_path / "var")],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert parent.stdout is not None
        assert parent.stdout.readline().strip() == "rendering", log.read_text()
        # Killed mid-letter, not before the render process took it up.
        assert (tmp_path / "var" / "slow-letter-started").exists()
        # The render process forked with WeasyPrint loaded: a replacement costs no import.
        assert (tmp_path / "var" / FORKED_WARM).exists()
        helpers = descendants(parent.pid)
        assert helpers
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=30)
        wait_for(lambda: not alive(helpers), 60, "the render process to finish and exit")
    finally:
        if parent.poll() is None:
            parent.kill()
    lines = [line for line in log.read_text().splitlines() if line.strip()]
    for line in lines:
        assert isinstance(json.loads(line), dict), f"not a JSON line: {line!r}"
    assert any(
        json.loads(line).get("event") == "worker gone: render process stops" for line in lines
    )
