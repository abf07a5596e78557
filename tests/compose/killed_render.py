"""A process that renders one slow letter in a `RenderPool`, then waits to be killed.

`python -m tests.compose.killed_render DATA_DIR` prints `rendering` once the render process has
started the letter (it writes `DATA_DIR/slow-letter-started` then); the test then kills this
process outright, as an OOM killer or SIGKILL would.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

from comms.compose.composer import Composer
from comms.compose.pdf import WindowLayout
from comms.compose.pool import WEASYPRINT, RenderPool
from comms.events import parse_event
from comms.logging import configure_logging
from comms.models import Message
from comms.samples import load_sample
from comms.settings import load_settings

SLOW_PREFIX = "slow-"  # only these letters are slow: the warm-up letters are not
SLOW_S = 2.0  # long enough for the test to kill the parent mid-letter
STARTED = "slow-letter-started"  # written in the data dir by the render process
FORKED_WARM = "weasyprint-imported-before-the-fork"  # written if the fork server had imported it
START_TIMEOUT_S = 60.0  # a loaded machine is slow to start a render process, not this slow


class SlowComposer(Composer):
    def __init__(self, templates_dir: Path, layout: WindowLayout, started: Path) -> None:
        super().__init__(templates_dir, layout)
        self.started = started
        if WEASYPRINT in sys.modules:  # made in the render process, before its first letter
            (started.parent / FORKED_WARM).touch()

    def compose(self, event: Any, *, issued_on: date | None = None) -> Message:
        if event.event_id.startswith(SLOW_PREFIX):
            self.started.touch()
            time.sleep(SLOW_S)
        return super().compose(event, issued_on=issued_on)


def slow_composer(templates_dir: Path, layout: WindowLayout, started: Path) -> Composer:
    return SlowComposer(templates_dir, layout, started)


def main(data_dir: Path) -> None:
    settings = load_settings(environment="test", data_dir=data_dir)
    configure_logging("INFO", "json")
    layout = WindowLayout.from_settings(settings)
    data_dir.mkdir(parents=True, exist_ok=True)
    started = data_dir / STARTED
    pool = RenderPool(
        settings,
        composer_factory=partial(slow_composer, settings.templates_dir, layout, started),
        processes=1,
    )
    pool.wait_ready()
    raw = load_sample("tax-certificate-nl") | {"event_id": f"{SLOW_PREFIX}0001"}
    pool.submit(parse_event(raw))
    deadline = time.monotonic() + START_TIMEOUT_S
    while not started.exists():
        if time.monotonic() > deadline:
            print("the render process never started the letter", flush=True)
            return
        time.sleep(0.02)
    print("rendering", flush=True)
    time.sleep(120)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
