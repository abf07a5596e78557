"""Ledger appends (`Ledger.record`) per CPU second: this checkout against another commit.

    python bench/ledger_append.py [--rows 3000] [--rounds 3] [--against HEAD~1]

A worker makes three appends per letter (rendered, routed, dispatched), each a transaction that
locks the chain head, hashes the row and indexes its evidence. The commit named by `--against` is
checked out into a temporary git worktree; both are measured in child processes on a fresh SQLite
file each, in alternating rounds (old, new, old, new, ...) so that a machine whose speed drifts
treats both alike. The ratio printed is new ÷ old CPU per append.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from quiet import warn_if_busy  # bench/quiet.py: scripts run with bench/ first on sys.path

ROWS_PER_EVENT = 3  # rendered, routed, dispatched
REPO = Path(__file__).resolve().parent.parent


def child(rows: int) -> None:
    """Runs in the measured checkout (PYTHONPATH): prints CPU ms per accept and append as JSON."""
    import comms
    from comms.ledger import Ledger
    from comms.models import ChannelName, Language, Status

    with tempfile.TemporaryDirectory() as tmp, Ledger(f"sqlite:///{tmp}/l.db", "bench") as ledger:
        ledger.migrate()
        accepted = max(1, rows // ROWS_PER_EVENT)
        cpu = time.process_time()
        for n in range(accepted):
            snapshot = json.dumps({"event_id": f"e-{n}", "n": n})
            ledger.accept_event(
                event_id=f"e-{n}",
                doc_type="tax_certificate",
                content_sha256=hashlib.sha256(snapshot.encode()).hexdigest(),
                snapshot_json=snapshot,
                subject_id="85073003328",
                dossier=f"D-{n}",
                language=Language.NL,
            )
        accept_cpu = time.process_time() - cpu
        cpu = time.process_time()
        for i in range(rows):
            ledger.record(
                event_id=f"e-{i % accepted}",
                status=Status.DISPATCHED,
                communication_id=f"c-{i}",
                channel=ChannelName.EMAIL,
                reason="email allowed and present",
                evidence={"smtp_message_id": f"<{i}@fonds.example>", "smtp_reply": "250 OK"},
                document_sha256="0" * 64,
                template_version="tax_certificate@1",
                renderer_version="weasyprint 70.0",
            )
        cpu = time.process_time() - cpu
    result = {"accept": 1000 * accept_cpu / accepted, "record": 1000 * cpu / rows}
    print(json.dumps(result | {"from": comms.__file__}))


def measure(checkout: Path, rows: int) -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    out = subprocess.run(
        [sys.executable, __file__, "--child", "--rows", str(rows)],
        env=env,
        cwd=checkout,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    result = json.loads(out.splitlines()[-1])
    if not Path(result.pop("from")).is_relative_to(checkout.resolve()):
        raise SystemExit(f"the child imported comms from outside {checkout}")
    return {k: float(v) for k, v in result.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--against", default="HEAD", help="the commit to compare with")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.rows)
        return
    warn_if_busy()
    with tempfile.TemporaryDirectory(prefix="comms-bench-old-") as old:
        subprocess.run(
            ["git", "worktree", "add", "--detach", old, args.against],
            cwd=REPO,
            check=True,
            capture_output=True,
        )
        try:
            runs: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
            print(f"{args.rows} appends on SQLite; old = {args.against}, new = this checkout")
            print(f"{'CPU ms per':<12}" + "".join(f"{h:>12}" for h in HEADS) + f"{'load avg':>10}")
            for n in range(1, args.rounds + 1):
                runs["old"].append(measure(Path(old), args.rows))
                runs["new"].append(measure(REPO, args.rows))
                cells = _row(runs["old"][-1:], runs["new"][-1:])
                print(f"{'round ' + str(n):<12}{cells}{os.getloadavg()[0]:>10.1f}", flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", old], cwd=REPO, check=False)
    print(f"{'median':<12}" + _row(runs["old"], runs["new"]))


HEADS = ("accept old", "new", "new ÷ old", "append old", "new", "new ÷ old")


def _row(old: list[dict[str, float]], new: list[dict[str, float]]) -> str:
    cells = ""
    for kind in ("accept", "record"):
        o = statistics.median(r[kind] for r in old)
        n = statistics.median(r[kind] for r in new)
        cells += f"{o:>12.3f}{n:>12.3f}{n / o:>12.2f}"
    return cells


if __name__ == "__main__":
    main()
