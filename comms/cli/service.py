"""`comms serve | worker | enqueue` and `comms dlq list | show | retry`: the service mode."""

from __future__ import annotations

import asyncio
import getpass
from collections import Counter
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from comms.app import build_app, build_ledger
from comms.cli.console import console, err, print_invalid
from comms.ledger import OUTAGES
from comms.logging import configure_logging
from comms.queue import Queue
from comms.service.dlq import DeadLetterOffice
from comms.service.guard import Guard
from comms.service.intake import Admission, Intake
from comms.settings import Settings, load_settings

cli = typer.Typer()
dlq = typer.Typer(help="Dead letters: events no channel could take, or quarantined after crashes.")

EXIT_PROBLEMS = 2  # ran to the end, but some lines were rejected or conflicted
EXIT_DATABASE_AWAY = 3  # stopped early: the database went away (the lines before it are in)


class QueueName(str, Enum):
    """A queue a worker process serves."""

    URGENT = "urgent"  # decisions and formal notices
    BULK = "bulk"  # everything else


def _settings() -> Settings:
    """Settings read and checked once, before anything starts; a bad one stops the command."""
    try:
        settings = load_settings()
    except ValidationError as exc:
        print_invalid(exc)
        raise typer.Exit(1) from None
    configure_logging(settings.log_level, settings.log_format)
    return settings


@cli.command()
def serve(
    host: Annotated[
        str,
        typer.Option(
            envvar="COMMS_API_HOST",
            help="Address to listen on; loopback keeps the API off the network (the image sets 0.0.0.0).",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="COMMS_API_PORT", help="Port to listen on.")] = 8000,
) -> None:
    """Run the HTTP API: it validates, records and queues events, and answers status; it never sends."""
    import uvicorn

    from comms.api import create_api

    settings = _settings()
    api = create_api(build_app(settings))
    uvicorn.run(api, host=host, port=port, log_config=None, server_header=False)


@cli.command()
def worker(
    queue: Annotated[
        list[QueueName] | None,
        typer.Option("--queue", help="Queue to serve; repeat for both (default: urgent and bulk)."),
    ] = None,
    burst: Annotated[bool, typer.Option(help="Stop once the queues are empty.")] = False,
    redis_wait: Annotated[
        float,
        typer.Option(
            envvar="COMMS_WORKER_REDIS_WAIT_S",
            min=0,
            help="Seconds to keep trying an unreachable Redis at start (containers start in any order).",
        ),
    ] = 120.0,
) -> None:
    """Run an arq worker process: events from Redis through the pipeline, recorded in the ledger."""
    from comms.worker import RedisUnreachable, serve

    settings = _settings()
    chosen = queue or [QueueName.URGENT, QueueName.BULK]
    keys = [q.value for q in dict.fromkeys(chosen)]
    try:
        serve(settings, keys, burst=burst, redis_wait_s=redis_wait)  # type: ignore[arg-type]
    except RedisUnreachable as exc:
        err.print(f"comms worker: {exc}", markup=False, highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, line


@cli.command()
def enqueue(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Events, one JSON object per line.")
    ],
) -> None:
    """Queue a file of events for the workers, with the same checks and idempotency as the API."""
    settings = _settings()
    lines = list(_lines(file))
    results: list[tuple[int, Admission]] = []
    try:
        asyncio.run(_enqueue(settings, file.name, lines, results))
    except OUTAGES as exc:
        code = _summary(results)
        where = f"line {lines[len(results)][0]}" if len(results) < len(lines) else "the end"
        err.print(
            f"The database became unavailable at {where} ({type(exc).__name__}): stopped there. "
            "Re-running the same file is safe: events already accepted are recognised as "
            "duplicates and not sent twice."
        )
        raise typer.Exit(EXIT_DATABASE_AWAY if code == 0 else code) from None
    raise typer.Exit(_summary(results))


async def _enqueue(
    settings: Settings,
    name: str,
    lines: list[tuple[int, str]],
    results: list[tuple[int, Admission]],
) -> None:
    """Takes the lines in order into `results`; a database outage stops it where it was."""
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
    )
    async with Intake.open(settings) as intake:
        with Progress(*columns, console=err, transient=False) as progress:
            task = progress.add_task(f"Queueing {name}", total=len(lines))
            for number, line in lines:
                admission = await intake.take(line, source=f"{name}:{number}", door="file")
                results.append((number, admission))
                progress.advance(task)


def _summary(results: list[tuple[int, Admission]]) -> int:
    counts = Counter(a.answer for _, a in results)
    unqueued = sum(1 for _, a in results if a.answer == "accepted" and not a.queued)
    for number, admission in results:
        for e in admission.errors:
            err.print(f"line {number}: {e.field}: {e.message}")
        if admission.answer == "conflict":
            err.print(f"line {number} ({admission.event_id}): {admission.reason}")

    def lines_of(answer: str) -> str:
        numbers = [str(n) for n, a in results if a.answer == answer]
        return f" (lines {', '.join(numbers)})" if numbers else ""

    console.print(
        f"Accepted {counts['accepted']}, duplicates {counts['duplicate']}, "
        f"rejected {counts['rejected']}{lines_of('rejected')}, "
        f"conflicts {counts['conflict']}{lines_of('conflict')}"
    )
    if unqueued:
        console.print(
            f"{unqueued} accepted but not queued (Redis away): the sweeper will queue them"
        )
    return EXIT_PROBLEMS if counts["rejected"] or counts["conflict"] else 0


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in some containers
        return "operator"


def _office(settings: Settings) -> tuple[DeadLetterOffice, Queue]:
    queue = Queue.from_settings(settings)
    return DeadLetterOffice(build_ledger(settings), queue, Guard(queue.redis)), queue


@dlq.command("list")
def dlq_list(
    limit: Annotated[int, typer.Option(min=1, max=1000, help="How many, newest first.")] = 100,
) -> None:
    """Events waiting for an operator, newest first, with the reason the worker gave up."""

    async def go() -> None:
        office, queue = _office(_settings())
        try:
            found = await office.letters(limit)
        finally:
            await queue.close()
        table = Table(title=f"Dead letters ({len(found)})")
        for col in ("event", "type", "since", "reason"):
            table.add_column(col, overflow="fold")
        for d in found:
            table.add_row(
                d.event_id, d.doc_type or "", d.at.isoformat(timespec="seconds"), d.reason
            )
        console.print(table)

    asyncio.run(go())


@dlq.command()
def show(event_id: Annotated[str, typer.Argument(help="The event id.")]) -> None:
    """One event's whole ledger history: states, channels, reasons, evidence."""

    async def go() -> int:
        office, queue = _office(_settings())
        try:
            history = await office.history(event_id)
        finally:
            await queue.close()
        if not history:
            err.print(f"No event {event_id} in the ledger.")
            return 1
        table = Table(title=f"Event {event_id} ({history[0].doc_type or 'rejected'})")
        for col in ("seq", "at", "channel", "state", "reason", "evidence"):
            table.add_column(col, overflow="fold")
        for e in history:
            evidence = ", ".join(f"{k}={v}" for k, v in sorted(e.evidence.items()))
            channel = e.channel.value if e.channel else ""
            at = e.at.isoformat(timespec="seconds")
            table.add_row(str(e.seq), at, channel, e.status.value, e.reason or "", evidence)
        console.print(table)
        return 0

    raise typer.Exit(asyncio.run(go()))


@dlq.command()
def retry(
    event_ids: Annotated[list[str], typer.Argument(help="Event ids to send back to the workers.")],
    actor: Annotated[
        str | None, typer.Option(help="Who asks, recorded in the ledger (default: your login).")
    ] = None,
) -> None:
    """Send dead letters back to the workers; failed channels are tried again, in policy order."""

    who = actor or _login()

    async def go() -> int:
        office, queue = _office(_settings())
        problems = 0
        try:
            for event_id in event_ids:
                result = await office.retry(event_id, actor=who)
                if result.answer in ("queued", "recorded"):
                    again = ", ".join(result.channels) or "the same run"
                    console.print(f"{event_id}: {result.answer} (again: {again})")
                else:
                    problems += 1
                    err.print(f"{event_id}: {result.answer.replace('_', ' ')}")
        finally:
            await queue.close()
        return EXIT_PROBLEMS if problems else 0

    raise typer.Exit(asyncio.run(go()))
