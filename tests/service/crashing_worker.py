"""`comms worker` whose renderer kills its own process on one event, as a crash in native code would.

POISON_EVENT_ID=... python tests/service/crashing_worker.py [--queue bulk]
"""

from __future__ import annotations

import os
import signal
import sys
from datetime import date
from typing import Any

from comms.compose import Composer

POISON = os.environ["POISON_EVENT_ID"]
_compose = Composer.compose


def compose(self: Composer, event: Any, *, issued_on: date | None = None) -> Any:
    if event.event_id == POISON:
        os.kill(os.getpid(), signal.SIGKILL)
    return _compose(self, event, issued_on=issued_on)


Composer.compose = compose  # type: ignore[method-assign]

if __name__ == "__main__":
    from comms.cli import cli

    cli(["worker", *sys.argv[1:]])
