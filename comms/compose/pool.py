"""Warm render processes, one per core, each replaced after N letters: batch speed, flat memory.

WeasyPrint is pure Python under the GIL, so a worker renders on one core however many jobs it runs
at once. The pool gives each core a process that keeps its compiled templates, parsed CSS and
loaded fonts from letter to letter, collects garbage between letters instead of during them, and
is replaced after `letters_per_process` letters so that whatever a long run leaves behind is
returned to the system. docs/performance.md has the measurements behind each choice.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import multiprocessing
import os
import queue
import resource
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from functools import partial
from multiprocessing.connection import Connection
from multiprocessing.context import ForkServerContext, SpawnContext
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from comms import errors
from comms.compose.composer import Composer
from comms.compose.pdf import WindowLayout
from comms.compose.renderer import Renderer
from comms.errors import CommsError, RenderRefused
from comms.events import AnyEvent, parse_event, to_json
from comms.logging import LogFormat, configure_logging, get_logger
from comms.models import Message
from comms.samples import load_sample
from comms.settings import Settings

log = get_logger(__name__)

ComposerFactory = Callable[[], Renderer]  # a Composer, or the published versions' (app.py)

START_TIMEOUT_S = (
    120.0  # imports, fonts and the warm-up letters; a process slower than this is stuck
)
STOP_TIMEOUT_S = 10.0  # a retiring process finishes its last reply well within this
# The module behind DeferredPdf: the fork server imports it so that no render process has to.
WEASYPRINT = "comms.compose.weasy"
WARM_UP_SAMPLES = ("contribution-notice-nl", "contribution-notice-fr")  # both languages' templates
IN_FLIGHT_PER_PROCESS = 2  # `map` keeps this many letters queued per process, no more


class RenderCrashed(CommsError):
    """A render process died, hung or failed unexpectedly: retry the event later (arq will)."""


@dataclass(frozen=True)
class ProcessStats:
    """One render process's life, as it reported it with its latest letter."""

    pid: int
    letters: int
    cpu_s: float  # the process's CPU time, start-up included
    startup_cpu_s: float  # of which imports, fonts and warm-up
    peak_rss_mb: float
    rss_mb: float


@dataclass(frozen=True)
class _Task:
    event_json: str
    issued_on: date | None


@dataclass(frozen=True)
class _Reply:
    stats: ProcessStats
    message: Message | None = None
    refused: tuple[str, str, str | None] | None = None  # class name, reason, template
    crashed: str | None = None  # exception type and where: never its message (it may hold data)


# --- the render process ----------------------------------------------------------------------


def _memory_mb() -> tuple[float, float]:
    """Peak and current resident memory of this process (Linux /proc, else getrusage)."""
    try:
        fields = dict(
            line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines()
        )
        return int(fields["VmHWM"].split()[0]) / 1024, int(fields["VmRSS"].split()[0]) / 1024
    except (OSError, KeyError, ValueError):
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        return peak, peak


def _stats(letters: int, startup_cpu_s: float) -> ProcessStats:
    peak, now = _memory_mb()
    return ProcessStats(os.getpid(), letters, time.process_time(), startup_cpu_s, peak, now)


def _where(exc: BaseException) -> str:
    """The exception's type and innermost frame, without its message (it may quote a member)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    frame = f" at {Path(tb.tb_frame.f_code.co_filename).name}:{tb.tb_lineno}" if tb else ""
    return f"{type(exc).__module__}.{type(exc).__qualname__}{frame}"


def _render(composer: Renderer, task: _Task, letters: int, startup_cpu_s: float) -> _Reply:
    try:
        message = composer.compose(parse_event(task.event_json), issued_on=task.issued_on)
    except RenderRefused as exc:
        refused = (type(exc).__name__, exc.reason, exc.template)
        return _Reply(_stats(letters, startup_cpu_s), refused=refused)
    except Exception as exc:
        return _Reply(_stats(letters, startup_cpu_s), crashed=_where(exc))
    return _Reply(_stats(letters + 1, startup_cpu_s), message=message)


def _warm_up(composer: Renderer) -> None:
    """Pango, fontconfig, the fonts and both languages' templates, before any member's letter."""
    for name in WARM_UP_SAMPLES:
        # A tree without this type (or unpublished) still serves: the first real letter warms up.
        with contextlib.suppress(CommsError, OSError):
            composer.compose(parse_event(load_sample(name)))  # the sample carries its date


def _serve(conn: Connection, factory: ComposerFactory, log_setup: tuple[str, LogFormat]) -> None:
    """The render process: its logs as the worker's, then `_letters` until told to stop.

    Nothing leaves here as multiprocessing's plain-text traceback on stderr, which would break
    the worker's JSON-lines log (issue 13, finding 7): a worker that is gone ends the process
    with one line, anything unexpected is logged by type and place, never by message.
    """
    level, fmt = log_setup
    configure_logging(level, fmt)
    try:
        _letters(conn, factory)
    except (BrokenPipeError, ConnectionResetError, EOFError):
        log.info("worker gone: render process stops")
    except Exception as exc:
        log.error("render process failed", error=_where(exc))


def _letters(conn: Connection, factory: ComposerFactory) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle: it stops us
    try:
        composer = factory()
        _warm_up(composer)
    except Exception as exc:
        conn.send(_Reply(_stats(0, time.process_time()), crashed=_where(exc)))
        return
    gc.collect()
    gc.freeze()  # what start-up built lives as long as the process: never scanned again
    startup_cpu_s = time.process_time()
    letters = 0
    conn.send(_stats(letters, startup_cpu_s))
    while (task := _next_task(conn)) is not None:
        gc.disable()  # a letter's objects die with it; scanning them mid-letter is wasted work
        try:
            reply = _render(composer, task, letters, startup_cpu_s)
        finally:
            gc.enable()
        letters = reply.stats.letters
        conn.send(reply)
        gc.collect()  # while the parent reads the reply; keeps memory flat letter after letter


def _next_task(conn: Connection) -> _Task | None:
    """The next letter; None when told to stop or when the parent is gone (killed, say)."""
    try:
        task: _Task | None = conn.recv()
    except (EOFError, OSError):
        return None
    return task


def working_copy_composer(templates_dir: Path, layout: WindowLayout) -> Composer:
    """The default factory: templates as they are on disk (development, tests, benchmarks)."""
    return Composer(templates_dir, layout)


# --- the parent's side -----------------------------------------------------------------------


class _Slot:
    """One render process and the thread that feeds it letters, one at a time."""

    def __init__(self, pool: RenderPool, index: int) -> None:
        self._pool = pool
        self._index = index
        self._proc: BaseProcess | None = None
        self._conn: Connection | None = None
        self._letters = 0
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name=f"comms-render-{index}", daemon=True)

    def _run(self) -> None:
        try:
            self._start()
        except Exception as exc:  # the slot lives on: the next letter starts a process again
            log.warning(
                "render process did not start; trying again with the next letter",
                process=self._index,
                error=str(exc) if isinstance(exc, RenderCrashed) else type(exc).__name__,
            )  # our own messages hold no data; others' might
        finally:
            self.ready.set()
        while (item := self._pool._tasks.get()) is not None:
            future, task = item
            if not future.set_running_or_notify_cancel():
                continue  # cancelled while it waited
            try:
                future.set_result(self._letter(task))
            except BaseException as exc:  # the caller gets it; this thread serves the next letter
                future.set_exception(exc)
        self._stop()

    def _start(self) -> None:
        ctx = self._pool._ctx
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_serve,
            args=(child, self._pool._factory, self._pool._log_setup),
            name=f"comms-render-{self._index}",
            daemon=True,
        )
        proc.start()
        child.close()
        self._proc, self._conn, self._letters = proc, parent, 0
        try:
            if not parent.poll(START_TIMEOUT_S):
                raise RenderCrashed("a render process did not start in time")
            hello = parent.recv()
        except (EOFError, OSError):
            self._kill()
            raise RenderCrashed("a render process died while starting") from None
        except RenderCrashed:
            self._kill()
            raise
        if isinstance(hello, _Reply):
            self._kill()
            raise RenderCrashed(f"a render process could not start: {hello.crashed}")
        self._pool._record(hello)

    def _letter(self, task: _Task) -> Message:
        for attempt in (1, 2):  # rendering has no side effects: a letter may be tried again
            if self._conn is None:
                self._start()
            assert self._conn is not None
            try:
                self._conn.send(task)
                if not self._conn.poll(self._pool.timeout_s):
                    self._kill()
                    raise RenderCrashed(f"a letter took over {self._pool.timeout_s:g} s to render")
                reply: _Reply = self._conn.recv()
            except (EOFError, OSError):
                self._kill()
                if attempt == 2:
                    raise RenderCrashed("the render process died twice on this letter") from None
                continue
            self._pool._record(reply.stats)
            self._letters += 1
            if self._letters >= self._pool.letters_per_process:
                self._stop()  # replaced with the next letter: memory back to where it started
            return _unwrap(reply)
        raise AssertionError("unreachable")

    def _stop(self) -> None:
        if self._conn is not None and self._proc is not None:
            with contextlib.suppress(OSError):
                self._conn.send(None)
            self._proc.join(STOP_TIMEOUT_S)
        self._kill()

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.is_alive():
                self._proc.kill()
            self._proc.join()
            self._proc.close()
        if self._conn is not None:
            self._conn.close()
        self._proc, self._conn = None, None


def _unwrap(reply: _Reply) -> Message:
    if reply.message is not None:
        return reply.message
    if reply.refused is not None:
        name, reason, template = reply.refused
        cls = getattr(errors, name, RenderRefused)
        if not (isinstance(cls, type) and issubclass(cls, RenderRefused)):
            cls = RenderRefused
        raise cls(reason, template=template)
    raise RenderCrashed(f"the render process failed: {reply.crashed}")


class RenderPool:
    """Renders letters in warm child processes. Thread-safe; `compose` blocks, `compose_async` awaits.

    Build it once per worker process (it starts its render processes at once) and close it at
    shutdown. `composer_factory` must be picklable (a module-level function or a `partial` of one):
    the composition root passes the one that honours published templates.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        composer_factory: ComposerFactory | None = None,
        processes: int | None = None,
        letters_per_process: int | None = None,
        timeout_s: float | None = None,
        start_method: Literal["forkserver", "spawn"] = "forkserver",
    ) -> None:
        self.processes = processes or settings.render_processes or os.cpu_count() or 1
        self.letters_per_process = letters_per_process or settings.render_letters_per_process
        self.timeout_s = timeout_s or settings.render_timeout_s
        self._log_setup = (settings.log_level, settings.log_format)
        self._factory = composer_factory or partial(
            working_copy_composer, settings.templates_dir, WindowLayout.from_settings(settings)
        )
        self._ctx: ForkServerContext | SpawnContext
        if start_method == "forkserver":
            # Children fork from a server that has WeasyPrint imported already: a replacement
            # process costs its warm-up letters, not the imports. Never plain fork: the caller
            # has threads (asyncio's, arq's) that a forked child would inherit half-way.
            self._ctx = multiprocessing.get_context("forkserver")
            self._ctx.set_forkserver_preload([__name__, WEASYPRINT])
        else:
            self._ctx = multiprocessing.get_context("spawn")
        self._tasks: queue.SimpleQueue[tuple[Future[Message], _Task] | None] = queue.SimpleQueue()
        self._stats: dict[int, ProcessStats] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._slots = [_Slot(self, i) for i in range(self.processes)]
        for slot in self._slots:
            slot.thread.start()

    def wait_ready(self, timeout_s: float = START_TIMEOUT_S) -> None:
        """Blocks until every render process has started and warmed up (or failed to)."""
        deadline = time.monotonic() + timeout_s
        for slot in self._slots:
            slot.ready.wait(max(0.0, deadline - time.monotonic()))

    def submit(
        self, event: AnyEvent | str | bytes, *, issued_on: date | None = None
    ) -> Future[Message]:
        """Queues one letter; an invalid event raises InvalidEvent here, in the caller."""
        if self._closed:
            raise RuntimeError("the render pool is closed")
        parsed = parse_event(event) if isinstance(event, str | bytes) else event
        future: Future[Message] = Future()
        self._tasks.put((future, _Task(to_json(parsed), issued_on)))
        return future

    def compose(self, event: AnyEvent | str | bytes, *, issued_on: date | None = None) -> Message:
        """What `Composer.compose` returns, rendered in a warm process; refusals raise the same."""
        return self.submit(event, issued_on=issued_on).result()

    async def compose_async(
        self, event: AnyEvent | str | bytes, *, issued_on: date | None = None
    ) -> Message:
        """The same, awaited without holding a thread: for the arq worker's event loop."""
        return await asyncio.wrap_future(self.submit(event, issued_on=issued_on))

    def map(
        self, events: Iterable[AnyEvent | str | bytes], *, issued_on: date | None = None
    ) -> Iterator[Message | RenderRefused]:
        """A batch in order; a refused letter is yielded as its refusal and the batch goes on."""
        window: deque[Future[Message]] = deque()
        limit = IN_FLIGHT_PER_PROCESS * self.processes
        for event in events:
            window.append(self.submit(event, issued_on=issued_on))
            if len(window) >= limit:
                yield _outcome(window.popleft())
        while window:
            yield _outcome(window.popleft())

    def stats(self) -> list[ProcessStats]:
        """Every render process this pool has run, retired ones included, by start order."""
        with self._lock:
            return list(self._stats.values())

    def _record(self, stats: ProcessStats) -> None:
        with self._lock:
            self._stats[stats.pid] = stats

    def close(self) -> None:
        """Lets queued letters finish, then stops every render process."""
        if self._closed:
            return
        self._closed = True
        for _ in self._slots:
            self._tasks.put(None)
        for slot in self._slots:
            slot.thread.join()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _outcome(future: Future[Message]) -> Message | RenderRefused:
    try:
        return future.result()
    except RenderRefused as exc:
        return exc
