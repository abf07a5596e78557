"""The worker renders in warm processes of its own, and takes them with it when it stops."""

from __future__ import annotations

import signal
from io import BytesIO
from pathlib import Path

import pytest
from pypdf import PdfReader

from comms.archive import Archive
from tests.service.conftest import WORKERS_A, Stack, event, wait_for

pytestmark = [
    pytest.mark.heavy,
    WORKERS_A,
    pytest.mark.timeout(600),
]


def descendants(pid: int) -> set[int]:
    """Every live process under `pid`, read from /proc (Linux)."""
    found: set[int] = set()
    todo = [pid]
    while todo:
        parent = todo.pop()
        for task in Path(f"/proc/{parent}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:  # the thread or process ended while we looked
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    todo.append(child)
    return found


def alive(pids: set[int]) -> set[int]:
    """The ones still running: a zombie has exited and only waits for its parent to reap it."""
    running: set[int] = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            running.add(pid)
    return running


def test_letters_render_in_the_workers_render_processes_which_stop_with_it(stack: Stack) -> None:
    stack.start_api()
    worker = stack.start_worker(render_processes=2)
    assert "render_processes=2" in worker.tail(200) or '"render_processes": 2' in worker.tail(200)

    ids = {f"pooled-{i:03d}" for i in range(4)}
    for event_id in sorted(ids):
        lang = "fr" if event_id.endswith(("1", "3")) else "nl"
        assert stack.post(event(f"tax-certificate-{lang}", event_id)).status_code == 202
    stack.wait_sent(ids, 300, [worker])

    # The forkserver and its two render processes, under the worker's process.
    helpers = descendants(worker.pid)
    assert len(helpers) >= 3, helpers
    archive = Archive(stack.emb.settings.archive_dir)
    for event_id, title in (
        ("pooled-000", "Fiscaal attest"),
        ("pooled-001", "Attestation fiscale"),
    ):
        sha = stack.ledger.history(event_id)[-1].document_sha256
        assert sha is not None
        assert title in PdfReader(BytesIO(archive.get(sha))).pages[0].extract_text()

    assert stack.stop(worker, signal.SIGTERM, timeout_s=60) == 0
    wait_for(lambda: not alive(helpers), 30, "the render processes to stop with the worker")


def test_a_worker_killed_outright_leaves_no_render_process_behind(stack: Stack) -> None:
    worker = stack.start_worker(render_processes=1)
    wait_for(lambda: len(descendants(worker.pid)) >= 2, 120, "the render process to start")
    helpers = descendants(worker.pid)

    assert stack.stop(worker, signal.SIGKILL, timeout_s=30) == -signal.SIGKILL
    wait_for(lambda: not alive(helpers), 30, "orphaned render processes to notice and exit")
