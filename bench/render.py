"""Letters per second for the machine: comms' render pool, a naive WeasyPrint baseline, headless Chromium.

    python bench/render.py                  # 1,000 notices + 200 decisions, both languages (minutes)
    python bench/render.py --scale 0.1      # the same mix, a tenth: a quick look
    python bench/render.py --scale 10 --variants comms,naive   # 10,000 letters: the memory run (long)
    python bench/render.py --levers         # paired measurements of each speed lever, one process

Each variant runs in its own spawned child, one after the other in this process's run, so peak
memory is its own and the machine is the same for all of them:
  (a) comms: the worker's path, `RenderPool` (one warm process per core) fed parsed events;
  (b) naive: one process, a fresh Jinja environment and a fresh WeasyPrint call per letter with the
      stylesheet inlined, plain PDF (not PDF/A: the baseline does less, never more);
  (c) chromium: the same letters' HTML merged into one file, printed by headless Debian Chromium.
CPU ms per letter adds every process's CPU (render processes, Chromium's, the bench child's own).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gc
import multiprocessing as mp
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from quiet import warn_if_busy  # bench/quiet.py: scripts run with bench/ first on sys.path

from comms.compose import Composer, WindowLayout
from comms.events import AnyEvent, parse_event
from comms.payment import structured_communication_from_base
from comms.samples import load_sample
from comms.settings import REPO_ROOT, load_settings

ISSUED = date(2027, 1, 4)
LAYOUT = WindowLayout(left_mm=20, top_mm=50, width_mm=90, height_mm=40)
SHARED = REPO_ROOT / "templates" / "shared"
NOTICES, DECISIONS = 1000, 200  # the issue's mix at --scale 1
CHECKPOINTS = (100, 1_000, 10_000)  # letters after which peak memory is read
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-pdf-header-footer",  # else Chromium prints a date, title and URL on every page
)
POLL_S = 0.05  # how often Chromium's processes are sampled for memory


# --- the letters ---------------------------------------------------------------------------


def events(notices: int, decisions: int) -> list[AnyEvent]:
    """Notices and decisions interleaved (5:1 at scale 1), alternating Dutch and French.

    Each letter is its own: event id, dossier, amount and structured communication (so the QR
    code) differ, so no cache anywhere can serve one letter from another.
    """
    out: list[AnyEvent] = []
    total = notices + decisions
    made = {"notice": 0, "decision": 0}
    for i in range(total):
        spread = (i + 1) * decisions // total > i * decisions // total  # decisions evenly spaced
        kind = "decision" if spread else "notice"
        made[kind] += 1
        lang = ("nl", "fr")[made[kind] % 2]
        name = f"contribution-notice-{lang}" if kind == "notice" else f"decision-{lang}"
        raw: dict[str, Any] = load_sample(name)
        raw["event_id"] = f"bench-{i:08d}"
        raw["dossier"] = f"D-{i:07d}"
        if kind == "notice":
            payload = raw["payload"]
            cents = i % 10_000
            costs = int(payload["calculation"]["management_costs"].replace(".", "")) + cents
            amount = int(payload["calculation"]["contribution"].replace(".", "")) + costs
            payload["calculation"]["management_costs"] = f"{costs // 100}.{costs % 100:02d}"
            payload["amount"] = f"{amount // 100}.{amount % 100:02d}"
            payload["payment"]["structured_communication"] = structured_communication_from_base(
                f"2027{i:06d}"
            )
        out.append(parse_event(raw))
    return out


def mix(scale: float) -> tuple[int, int]:
    return max(1, round(NOTICES * scale)), max(1, round(DECISIONS * scale))


# --- measuring -----------------------------------------------------------------------------


def peak_rss_mb(pid: int | str = "self") -> float:
    """VmHWM: the process's peak resident memory."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def result(
    letters: int, wall_s: float, cpu_s: float, size: int, peaks: dict[int, float], **extra: Any
) -> dict[str, Any]:
    return {
        "letters": letters,
        "wall_s": wall_s,
        "cpu_s": cpu_s,
        "bytes": size,
        "peaks": peaks,
        "load": os.getloadavg()[0],
        **extra,
    }


# --- (a) comms: the render pool, as the worker uses it ---------------------------------------


def run_comms(letters: list[AnyEvent], options: dict[str, Any]) -> dict[str, Any]:
    from comms.compose.pool import RenderPool
    from comms.errors import RenderRefused

    settings = load_settings(environment="test")
    started = time.perf_counter()
    with RenderPool(
        settings,
        processes=options.get("processes"),
        letters_per_process=options.get("letters_per_process"),
    ) as pool:
        pool.wait_ready()
        startup_s = time.perf_counter() - started
        cpu0, wall0 = time.process_time(), time.perf_counter()
        size, largest, peaks = 0, 0, {}
        for n, message in enumerate(pool.map(letters, issued_on=ISSUED), 1):
            if isinstance(message, RenderRefused):
                raise message
            size += len(message.document.pdf)
            largest = max(largest, len(message.document.pdf))
            if n in CHECKPOINTS:
                peaks[n] = max(s.peak_rss_mb for s in pool.stats())
        wall, own_cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        stats = pool.stats()
    peaks[len(letters)] = max(s.peak_rss_mb for s in stats)
    render_cpu = sum(s.cpu_s - s.startup_cpu_s for s in stats)
    return result(
        len(letters),
        wall,
        render_cpu + own_cpu,
        size,
        peaks,
        largest_kb=largest / 1024,
        processes=pool.processes,
        replaced=len(stats) - pool.processes,
        startup_s=startup_s,
    )


# --- (b) naive: a fresh WeasyPrint call per letter ----------------------------------------------


def run_naive(letters: list[AnyEvent], options: dict[str, Any]) -> dict[str, Any]:
    import pydyf  # type: ignore[import-untyped]
    import weasyprint

    composer = Composer(REPO_ROOT / "templates", LAYOUT)
    pydyf.zlib = zlib  # WeasyPrint as installed: comms' deflate level is one of comms' levers

    def one(event: AnyEvent) -> bytes:
        composer._envs.clear()  # a new Jinja environment: every template compiled again
        html = composer.render_texts(event, issued_on=ISSUED).letter_html
        css = (SHARED / "letter.css").read_text(encoding="utf-8") + LAYOUT.css()
        html = html.replace("</head>", f"<style>{css}</style></head>", 1)
        pdf = weasyprint.HTML(string=html, base_url=SHARED.as_uri() + "/").write_pdf()
        assert isinstance(pdf, bytes)
        return pdf

    one(letters[0])  # imports and Pango's first start are not what a batch pays per letter
    cpu0, wall0 = time.process_time(), time.perf_counter()
    size, peaks = 0, {}
    for n, event in enumerate(letters, 1):
        size += len(one(event))
        if n in CHECKPOINTS:
            peaks[n] = peak_rss_mb()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    peaks[len(letters)] = peak_rss_mb()
    return result(len(letters), wall, cpu, size, peaks)


# --- (c) headless Chromium printing one merged file ----------------------------------------------


def merged_html(htmls: list[str]) -> str:
    """One document: the stylesheet once (fonts inlined), each letter's body on new pages."""
    css = (SHARED / "letter.css").read_text(encoding="utf-8")
    for font in sorted((SHARED / "fonts").glob("*.ttf")):
        data = base64.b64encode(font.read_bytes()).decode()
        css = css.replace(f'url("fonts/{font.name}")', f'url("data:font/ttf;base64,{data}")')
    bodies = [re.search(r"<body([^>]*)>(.*)</body>", h, re.S) for h in htmls]
    sheets = "".join(
        f'<div class="sheet"><div{m.group(1)}>{m.group(2)}</div></div>' for m in bodies if m
    )
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>'
        f"{css}\n{LAYOUT.css()}\n.sheet + .sheet {{ break-before: page; }}"
        f"</style></head><body>{sheets}</body></html>"
    )


def watch_tree(
    root: int, peaks: dict[int, float], cpu: dict[int, float], stop: threading.Event
) -> None:
    """Samples peak memory and CPU time of Chromium and every process under it until stopped.

    Sampled, because Chromium's renderers are forked by its zygote and their CPU time does not
    all reach this process's RUSAGE_CHILDREN; the last POLL_S of each process is missed.
    """
    import psutil

    while not stop.is_set():
        try:
            procs = [psutil.Process(root), *psutil.Process(root).children(recursive=True)]
        except psutil.Error:
            return
        for proc in procs:
            with contextlib.suppress(OSError, psutil.Error):  # it ended between two looks
                peaks[proc.pid] = max(peaks.get(proc.pid, 0.0), peak_rss_mb(proc.pid))
                times = proc.cpu_times()
                cpu[proc.pid] = max(cpu.get(proc.pid, 0.0), times.user + times.system)
        stop.wait(POLL_S)


def print_with_chromium(html: str, workdir: Path) -> tuple[bytes, float, int, float]:
    """The PDF, the peak MB of Chromium's largest process, how many it ran, their CPU seconds."""
    source, target = workdir / "letters.html", workdir / "letters.pdf"
    source.write_text(html, encoding="utf-8")
    args = [CHROMIUM, *CHROMIUM_FLAGS, f"--print-to-pdf={target}", source.as_uri()]
    peaks: dict[int, float] = {}
    cpu: dict[int, float] = {}
    stop = threading.Event()
    with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
        watcher = threading.Thread(target=watch_tree, args=(proc.pid, peaks, cpu, stop))
        watcher.start()
        proc.wait()
        stop.set()
        watcher.join()
    if proc.returncode != 0 or not target.exists():
        raise RuntimeError(f"chromium exited with {proc.returncode}")
    return target.read_bytes(), max(peaks.values(), default=0.0), len(peaks), sum(cpu.values())


def run_chromium(letters: list[AnyEvent], options: dict[str, Any]) -> dict[str, Any]:
    composer = Composer(REPO_ROOT / "templates", LAYOUT)
    peaks: dict[int, float] = {}
    counts: dict[int, int] = {}
    with tempfile.TemporaryDirectory(prefix="bench-chromium-") as tmp:
        for n in CHECKPOINTS:  # memory of a smaller merged file, printed apart
            if n < len(letters):
                htmls = [
                    composer.render_texts(e, issued_on=ISSUED).letter_html for e in letters[:n]
                ]
                _, peaks[n], counts[n], _ = print_with_chromium(merged_html(htmls), Path(tmp))
        cpu0, wall0 = time.process_time(), time.perf_counter()
        htmls = [composer.render_texts(e, issued_on=ISSUED).letter_html for e in letters]
        html = merged_html(htmls)
        html_s = time.perf_counter() - wall0
        pdf, peaks[len(letters)], counts[len(letters)], chromium_cpu = print_with_chromium(
            html, Path(tmp)
        )
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0 + chromium_cpu
    return result(
        len(letters),
        wall,
        cpu,
        len(pdf),
        peaks,
        chromium_processes=max(counts.values()),
        html_s=html_s,
    )


def run_comms_one_process(letters: list[AnyEvent], options: dict[str, Any]) -> dict[str, Any]:
    """(a) with a single render process: what reuse and the levers give, before parallelism."""
    return run_comms(letters, {**options, "processes": 1})


RUNNERS: dict[str, Callable[[list[AnyEvent], dict[str, Any]], dict[str, Any]]] = {
    "naive": run_naive,
    "comms": run_comms,
    "comms1": run_comms_one_process,
    "chromium": run_chromium,
}
LABELS = {
    "comms": "(a) comms",
    "comms1": "(a) 1 process",
    "naive": "(b) naive",
    "chromium": "(c) chromium",
}


def _child(name: str, mix_: tuple[int, int], options: dict[str, Any], queue: Any) -> None:
    try:
        queue.put(RUNNERS[name](events(*mix_), options))
    except BaseException as exc:
        queue.put({"error": f"{type(exc).__name__}: {exc}"})
        raise


def measure(name: str, mix_: tuple[int, int], options: dict[str, Any]) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(name, mix_, options, queue))
    proc.start()
    out: dict[str, Any] = queue.get()
    proc.join()
    if "error" in out:
        raise SystemExit(f"{name}: {out['error']}")
    return out


def report(rows: dict[str, list[dict[str, Any]]]) -> None:
    """Median and best round of each variant; ratios against (b), the naive baseline.

    On a machine others use too, interference only ever slows a round down: the best round is the
    closest to what the machine gives, the median what it gave that day.
    """

    def rate(r: dict[str, Any]) -> float:
        return float(r["letters"] / r["wall_s"])

    def cpu_ms(r: dict[str, Any]) -> float:
        return float(1000 * r["cpu_s"] / r["letters"])

    def kb(r: dict[str, Any]) -> float:
        return float(r["bytes"] / r["letters"] / 1024)

    def med(name: str, key: Callable[[dict[str, Any]], float]) -> float:
        return statistics.median(key(r) for r in rows[name])

    def best(name: str) -> float:
        return max(rate(r) for r in rows[name])

    base_med = med("naive", rate) if "naive" in rows else float("nan")
    base_best = best("naive") if "naive" in rows else float("nan")
    print(
        f"\n{'variant':<14}{'letters':>8}{'letters/s':>11}{'best':>8}{'× (b)':>7}{'best ×':>8}"
        f"{'CPU ms/letter':>15}{'KB/letter':>11}{'load avg':>10}"
    )
    for name in rows:
        print(
            f"{LABELS[name]:<14}{rows[name][0]['letters']:>8}{med(name, rate):>11.2f}"
            f"{best(name):>8.2f}{med(name, rate) / base_med:>7.2f}{best(name) / base_best:>8.2f}"
            f"{med(name, cpu_ms):>15.1f}{med(name, kb):>11.1f}"
            f"{med(name, lambda r: r['load']):>10.1f}"
        )
    if {"comms", "naive"} <= rows.keys():
        cores = rows["comms"][0]["processes"]
        idle = cores * 1000 / med("comms", cpu_ms) / (1000 / med("naive", cpu_ms))
        print(
            f"CPU-bound estimate for an idle machine: (a) {cores} × 1000 / CPU ms per letter = "
            f"{cores * 1000 / med('comms', cpu_ms):.1f} letters/s, {idle:.2f}× (b)"
        )
    points = sorted({n for runs in rows.values() for r in runs for n in r["peaks"]})
    print(
        "\npeak memory per process, MB, after " + ", ".join(f"{n:,}" for n in points) + " letters"
    )
    for name, runs in rows.items():
        cells = [max(r["peaks"].get(n, 0.0) for r in runs) for n in points]
        line = "".join(f"{c:>10.0f}" if c else f"{'-':>10}" for c in cells)
        print(f"{LABELS[name]:<14}{line}")
    if "chromium" in rows:
        r = rows["chromium"][-1]
        print(
            f"  (c) is Chromium's largest process, of {r['chromium_processes']} (browser, "
            "renderer, GPU, utilities)"
        )
        print(f"  (c) includes {r['html_s']:.1f} s of Jinja rendering in one process before print")
    if "comms" in rows:
        r = rows["comms"][-1]
        print(
            f"  (a) {r['processes']} render processes, {r['replaced']} replaced on the way, "
            f"start-up {r['startup_s']:.1f} s (not counted), largest letter {r['largest_kb']:.1f} KB"
        )
    if {"comms", "naive"} <= rows.keys():
        pairs = [rate(a) / rate(b) for a, b in zip(rows["comms"], rows["naive"], strict=False)]
        print("(a)/(b) round by round: " + ", ".join(f"{p:.2f}×" for p in pairs))


# --- levers: paired, one process, letter by letter -------------------------------------------


BEFORE_LETTERHEAD = (
    ".sender { display: flex !important; justify-content: space-between; "
    "align-items: flex-start; } .sender .fund, .sender .refs { float: none !important; }"
)


def run_levers(letters: list[AnyEvent], rounds: int) -> None:
    """Each lever against the current path on the same letters, back to back, GC outside timing."""
    import pydyf
    import weasyprint

    from comms.compose.weasy import PdfRenderer
    from comms.doctypes import DOC_TYPES
    from comms.payment import epc_qr

    pdf = PdfRenderer(SHARED, LAYOUT)  # the real one: its parsed styles and fonts are reused
    composer = Composer(REPO_ROOT / "templates", LAYOUT, pdf=pdf)
    fast_zlib = pydyf.zlib
    htmls = [composer.render_texts(e, issued_on=ISSUED).letter_html for e in letters]

    def svg_qr(html: str, event: AnyEvent) -> str:
        payable = DOC_TYPES[event.type].payable(event)
        if payable is None:
            return html
        qr = epc_qr(
            beneficiary=payable.payment.beneficiary,
            iban=payable.payment.iban,
            bic=payable.payment.bic,
            amount=payable.amount,
            reference=payable.payment.structured_communication,
        )
        uri = qr.svg_data_uri(scale=4, border=0)
        return re.sub(r'src="data:image/png;base64,[^"]*"', f'src="{uri}"', html, count=1)

    def style(css: str) -> Callable[[str], str]:
        return lambda html: html.replace("</head>", f"<style>{css}</style></head>", 1)

    def render(html: str, **options: Any) -> bytes:
        document = weasyprint.HTML(
            string=html, base_url=SHARED.as_uri() + "/", url_fetcher=pdf._fetcher
        ).render(stylesheets=pdf._styles(), font_config=pdf._fonts)
        out = document.write_pdf(**{"pdf_variant": "pdf/a-3b", **options})
        assert isinstance(out, bytes)
        return out

    def slow_deflate(html: str) -> bytes:
        pydyf.zlib = zlib
        try:
            return render(html)
        finally:
            pydyf.zlib = fast_zlib

    svg_htmls = [svg_qr(h, e) for h, e in zip(htmls, letters, strict=True)]
    untagged = PdfRenderer(SHARED, LAYOUT, tagged=False)
    # "current" is the renderer itself: tagged PDF/A-3a with the PDF/UA-1 claim, the footer put
    # last in the reading order (a pikepdf pass) and the window measured (issue 16). The levers
    # below it are variations of the untagged PDF/A-3b path the letters took before issue 16.
    variants: dict[str, Callable[[int], bytes]] = {
        "current": lambda i: pdf.render(htmls[i])[0],
        "untagged PDF/A-3b (before 16)": lambda i: untagged.render(htmls[i])[0],
        "tagged, footer not read": lambda i: render(htmls[i], pdf_variant="pdf/a-3a"),
        "letterhead as flex (before)": lambda i: render(style(BEFORE_LETTERHEAD)(htmls[i])),
        "QR as SVG path (before)": lambda i: render(svg_htmls[i]),
        "deflate level 9 (before)": lambda i: slow_deflate(htmls[i]),
        "all three (before)": lambda i: slow_deflate(style(BEFORE_LETTERHEAD)(svg_htmls[i])),
        "plain PDF, not PDF/A": lambda i: render(htmls[i], pdf_variant=None),
        "fonts embedded whole": lambda i: render(htmls[i], full_fonts=True),
    }
    for run in variants.values():
        run(0)
    totals = {name: [0.0, 0] for name in variants}
    names = list(variants)
    for r in range(rounds):
        for i in range(len(letters)):
            shift = (r * len(letters) + i) % len(names)
            for name in names[shift:] + names[:shift]:
                gc.collect()
                gc.disable()
                t = time.process_time()
                out = variants[name](i)
                totals[name][0] += time.process_time() - t
                gc.enable()
                totals[name][1] += len(out)
    n = rounds * len(letters)
    base = totals["current"][0]
    print(
        f"\n{'lever (paired, one process)':<30}{'CPU ms/letter':>14}{'time ÷ current':>16}{'KB':>7}"
    )
    for name, (cpu, size) in totals.items():
        print(f"{name:<30}{1000 * cpu / n:>14.1f}{cpu / base:>16.3f}{size / n / 1024:>7.1f}")
    run_gc_levers(letters)


def _gc_child(policy: str, mix_: tuple[int, int], queue: Any) -> None:
    composer = Composer(REPO_ROOT / "templates", LAYOUT)
    letters = events(*mix_)
    for event in letters[:4]:
        composer.compose(event, issued_on=ISSUED)
    if policy != "default":
        gc.collect()
        gc.freeze()
    cpu0 = time.process_time()
    for event in letters:
        if policy == "between letters":
            gc.disable()
        composer.compose(event, issued_on=ISSUED)
        if policy == "between letters":
            gc.enable()
            gc.collect()
    queue.put((time.process_time() - cpu0, peak_rss_mb()))


def run_gc_levers(letters: list[AnyEvent]) -> None:
    """Garbage collection is per process: each policy in its own child, alternating, twice."""
    ctx = mp.get_context("spawn")
    mix_ = (len(letters) - len(letters) // 6, len(letters) // 6)
    policies = ("default", "freeze after warm-up", "between letters")
    totals: dict[str, list[float]] = {p: [] for p in policies}
    peaks: dict[str, float] = {}
    for round_ in range(2):
        for policy in policies if round_ == 0 else policies[::-1]:
            queue = ctx.Queue()
            proc = ctx.Process(target=_gc_child, args=(policy, mix_, queue))
            proc.start()
            cpu, peak = queue.get()
            proc.join()
            totals[policy].append(cpu)
            peaks[policy] = max(peaks.get(policy, 0.0), peak)
    base = sum(totals["default"])
    print(f"\n{'garbage collection (whole compose)':<36}{'time ÷ default':>15}{'peak MB':>9}")
    for policy in policies:
        print(f"{policy:<36}{sum(totals[policy]) / base:>15.3f}{peaks[policy]:>9.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--scale", type=float, default=1.0, help="1: 1,000 notices + 200 decisions")
    parser.add_argument(
        "--variants", default="naive,comms,chromium", help="also: comms1 (one render process)"
    )
    parser.add_argument("--rounds", type=int, default=1, help="repeat, alternating the order")
    parser.add_argument(
        "--letters-per-process", type=int, help="(a): replace after (default: settings)"
    )
    parser.add_argument("--levers", action="store_true", help="paired lever measurements instead")
    args = parser.parse_args()
    warn_if_busy()
    mix_ = mix(args.scale)
    print(
        f"{mix_[0]:,} contribution notices + {mix_[1]:,} decisions, nl and fr; "
        f"{os.cpu_count()} cores; Python {sys.version.split()[0]}"
    )
    if args.levers:
        run_levers(events(*mix_), max(1, args.rounds))
        return
    names = [n.strip() for n in args.variants.split(",") if n.strip()]
    options = {"letters_per_process": args.letters_per_process}
    rows: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for round_ in range(args.rounds):
        for name in names if round_ % 2 == 0 else names[::-1]:
            rows[name].append(measure(name, mix_, options))
            r = rows[name][-1]
            print(
                f"  round {round_ + 1}: {LABELS[name]} {r['letters'] / r['wall_s']:.2f} letters/s "
                f"(load {r['load']:.1f})",
                flush=True,
            )
    report(rows)


if __name__ == "__main__":
    main()
