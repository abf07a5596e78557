"""Says so when the machine is busy before a bench starts: its figures would come out low.

Measured on 2026-11-30: beside other test runs (load 4–13 on 2 cores) arq, SMTP and the pipeline
ran at a third of their quiet-machine rate (docs/performance.md, Caveats).
"""

from __future__ import annotations

import os
import sys

BUSY_SHARE = 0.5  # one-minute load average per core above which the figures are not of record


def warn_if_busy() -> None:
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    if load > BUSY_SHARE * cores:
        print(
            f"warning: load average {load:.1f} on {cores} cores before the bench starts; "
            "other work will slow it down, most of all anything that crosses processes",
            file=sys.stderr,
        )
