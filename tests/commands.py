"""`comms …` as a user types it, run in this process: the same command, output and exit code, no start-up.

One Python start-up costs about 2 s here; CLI behaviour does not need one. The real entry points
(`comms demo`, `serve`, `worker`, exit codes of the installed script) keep a process each, through
`comms_process`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from typer.testing import CliRunner

from comms.cli import cli
from comms.cli.console import console, err

PROCESS_TIMEOUT_S = 240
COMMS_ARGV = [sys.executable, "-m", "comms.cli"]  # the installed script, without relying on PATH


@dataclass(frozen=True)
class Ran:
    """What the user sees: the exit code and both streams, as `subprocess.run` would give them."""

    returncode: int
    stdout: str
    stderr: str


def command_env(folder: Path, env: Mapping[str, str] | None) -> dict[str, str]:
    """Only the settings the test gives: the data under `folder/var` unless `env` says otherwise."""
    return {"COMMS_DATA_DIR": str(folder / "var"), "COLUMNS": "200", **(env or {})}


def comms(folder: Path, *args: str, env: Mapping[str, str] | None = None) -> Ran:
    """`comms ARGS` in `folder`; `env` adds or overrides settings (COMMS_*) for this call only."""
    given = command_env(folder, env)
    # Settings of the test process itself must not leak in: a process started by a user would
    # see only its own environment.
    unset: dict[str, str | None] = {k: None for k in os.environ if k.startswith("COMMS_")}

    def invoke() -> Ran:
        # The consoles fixed their width when first imported (xdist sets COLUMNS=80 then): a
        # process would read COLUMNS as it starts, so set what this call says.
        for printer in (console, err):
            printer.width = int(given["COLUMNS"])
        with contextlib.chdir(folder):
            result = CliRunner().invoke(
                cli, list(args), env={**unset, **given}, catch_exceptions=False
            )
        return Ran(result.exit_code, result.stdout, result.stderr)

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return invoke()
    # An async test holds this thread's loop, and commands start their own: another thread.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(invoke).result()


def process_env(folder: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a `comms` process: this one's, minus its settings, plus the test's."""
    outer = {k: v for k, v in os.environ.items() if not k.startswith("COMMS_")}
    return {**outer, **command_env(folder, env)}


def comms_process(
    folder: Path, *args: str, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m comms.cli ARGS` as a real process, for what only a process shows."""
    return subprocess.run(
        [*COMMS_ARGV, *args],
        cwd=folder,
        env=process_env(folder, env),
        capture_output=True,
        text=True,
        timeout=PROCESS_TIMEOUT_S,
    )
