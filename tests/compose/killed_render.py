"""A process that renders one slow letter in a `RenderPool`, then waits to be killed.

`python -m tests.compose.killed_render DATA_DIR` prints `rendering` once the letter is in its
render process; the test then kills this process outright, as an OOM killer or SIGKILL would.
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
from comms.compose.pool import RenderPool
from comms.events import parse_event
from comms.logging import configure_logging
from comms.models import Message
from comms.samples import load_sample
from comms.settings import load_settings

SLOW_PREFIX = "slow-"  # only these letters are slow: the warm-up letters are not
SLOW_S = 2.0  # long enough for the test to kill the parent mid-letter


class SlowComposer(Composer):
    def compose(self, event: Any, *, issued_on: date | None = None) -> Message:
        if event.event_id.startswith(SLOW_PREFIX):
            time.sleep(SLOW_S)
        return super().compose(event, issued_on=issued_on)


def slow_composer(templates_dir: Path, layout: WindowLayout) -> Composer:
    return SlowComposer(templates_dir, layout)


def main(data_dir: Path) -> None:
    settings = load_settings(environment="test", data_dir=data_dir)
    configure_logging("INFO", "json")
    layout = WindowLayout.from_settings(settings)
    pool = RenderPool(
        settings,
        composer_factory=partial(slow_composer, settings.templates_dir, layout),
        processes=1,
    )
    pool.wait_ready()
    raw = load_sample("tax-certificate-nl") | {"event_id": f"{SLOW_PREFIX}0001"}
    pool.submit(parse_event(raw))
    time.sleep(0.5)  # the letter is in the render process by now
    print("rendering", flush=True)
    time.sleep(120)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
