"""Exactly once at scale: the service test's batch with a thousand events (or more), real workers.

    python bench/exactly_once.py                 # 1,000 events
    python bench/exactly_once.py --events 5000

The CI test (tests/service/test_exactly_once.py) proves the behaviour on a batch just big enough
to overlap two workers and arq's expired results; this runs the same test, with its API, two
workers, SMTP sink and Redis database, at the size given, and prints its rates: events sent per
second, then redelivered jobs that send nothing.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

from quiet import warn_if_busy  # bench/quiet.py: scripts run with bench/ first on sys.path

from comms.settings import REPO_ROOT

TEST = (
    "tests/service/test_exactly_once.py"
    "::test_a_batch_of_events_is_each_sent_once_and_repeats_send_nothing"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    warn_if_busy()
    env = os.environ | {"COMMS_EXACTLY_ONCE_EVENTS": str(args.events)}
    argv = [sys.executable, "-m", "pytest", "-q", "-s", "-n", "0", "-p", "no:cacheprovider", TEST]
    sys.exit(subprocess.run(argv, env=env, cwd=REPO_ROOT, check=False).returncode)


if __name__ == "__main__":
    main()
