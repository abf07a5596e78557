"""Letters per second through comms' composer, beside a naive WeasyPrint baseline, with peak memory.

    python bench/render.py [--letters 40]

Each variant runs in a fresh child process (so peak RSS is its own); the same contribution
notices and decisions, both languages, go through both. The ratio is what to watch.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import time
from datetime import date
from typing import Any

from comms.compose import Composer, WindowLayout
from comms.events import AnyEvent, parse_event
from comms.samples import load_sample
from comms.settings import REPO_ROOT

ISSUED = date(2027, 1, 4)
LAYOUT = WindowLayout(left_mm=20, top_mm=50, width_mm=90, height_mm=40)


def events(count: int) -> list[AnyEvent]:
    """Contribution notices and decisions (5:1, as in a quarter's run), alternating languages."""
    names = ["contribution-notice-nl", "contribution-notice-fr"] * 5 + [
        "decision-nl",
        "decision-fr",
    ]
    out = []
    for i in range(count):
        raw: dict[str, Any] = load_sample(names[i % len(names)])
        raw["event_id"] = f"bench-{i:08d}"
        out.append(parse_event(raw))
    return out


def comms_path(batch: list[AnyEvent]) -> int:
    """What the worker does: one composer, compiled templates and parsed CSS reused."""
    composer = Composer(REPO_ROOT / "templates", LAYOUT)
    return sum(len(composer.compose(e, issued_on=ISSUED).document.pdf) for e in batch)


def naive_path(batch: list[AnyEvent]) -> int:
    """The baseline: the same HTML, but a fresh WeasyPrint call per letter with the CSS inlined."""
    import weasyprint

    composer = Composer(REPO_ROOT / "templates", LAYOUT)
    shared = REPO_ROOT / "templates" / "shared"
    size = 0
    for event in batch:
        html = composer.render_texts(event, issued_on=ISSUED).letter_html
        css = (shared / "letter.css").read_text() + LAYOUT.css()
        html = html.replace("</head>", f"<style>{css}</style></head>", 1)
        size += len(weasyprint.HTML(string=html, base_url=str(shared) + "/").write_pdf())
    return size


def _child(name: str, count: int, queue: Any) -> None:
    batch = events(count)
    run = comms_path if name == "comms" else naive_path
    run(batch[:2])  # warm-up: imports and first font load are not what a batch pays per letter
    cpu0, wall0 = time.process_time(), time.perf_counter()
    size = run(batch)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put({"letters": count, "wall_s": wall, "cpu_s": cpu, "bytes": size, "peak_mb": peak_mb})


def measure(name: str, count: int) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, count, queue))
    proc.start()
    result: dict[str, float] = queue.get()
    proc.join()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--letters", type=int, default=40)
    args = parser.parse_args()
    rows = {name: measure(name, args.letters) for name in ("naive", "comms")}
    print(
        f"{'variant':<8} {'letters/s':>10} {'CPU ms/letter':>14} {'KB/letter':>10} {'peak MB':>8}"
    )
    for name, r in rows.items():
        n = r["letters"]
        print(
            f"{name:<8} {n / r['wall_s']:>10.2f} {1000 * r['cpu_s'] / n:>14.1f} "
            f"{r['bytes'] / n / 1024:>10.1f} {r['peak_mb']:>8.0f}"
        )
    ratio = (rows["comms"]["letters"] / rows["comms"]["wall_s"]) / (
        rows["naive"]["letters"] / rows["naive"]["wall_s"]
    )
    print(f"comms / naive throughput: {ratio:.2f}x (one process; see docs/performance.md)")


if __name__ == "__main__":
    main()
