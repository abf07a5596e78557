"""`comms post batch | ack FILE | returned FILE`: print batches and what the print shop sends back."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer

from comms import tracking
from comms.app import App, build_app
from comms.cli.console import console, err
from comms.settings import load_settings

cli = typer.Typer(help="Post-print: batches for the print shop, its acknowledgements, returns.")

EXIT_PROBLEMS = 2  # the file was read to its end, but some lines could not be used


def _run(work: Callable[[App], Awaitable[tracking.Summary]]) -> tracking.Summary:
    async def go() -> tracking.Summary:
        async with build_app(load_settings()) as app:
            return await work(app)

    return asyncio.run(go())


def report(summary: tracking.Summary) -> int:
    """Counts on stdout, unusable lines on stderr; the exit code says whether there were any."""
    for name, count in sorted(summary.kinds.items()):
        console.print(f"{name}: {count}")
    for name, count in sorted(summary.verdicts.items()):
        console.print(f"{name}: {count}")
    for outcome in summary.fallbacks:
        console.print(f"fallback for {outcome.event_id}: {outcome.verdict}")
    for problem in summary.problems:
        err.print(problem)
    return EXIT_PROBLEMS if summary.problems else 0


@cli.command("batch")
def batch(
    size_only: Annotated[
        bool, typer.Option("--size-only", help="Cut only full batches; the rest waits.")
    ] = False,
) -> None:
    """Cut waiting letters into print batches (merged PDF, JSON and CSV manifest) and record them."""
    summary = _run(lambda app: tracking.cut_print_batches(app, force=not size_only))
    console.print(f"Batches are in {load_settings().post_dir.resolve() / 'batches'}")
    raise typer.Exit(report(summary))


@cli.command("ack")
def ack(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The shop's CSV.")],
) -> None:
    """Import the print shop's acknowledgement: printed → dispatched, posted → delivered."""
    content = file.read_bytes()
    raise typer.Exit(report(_run(lambda app: tracking.import_acknowledgements(app, content))))


@cli.command("returned")
def returned(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="Returned mail, CSV.")],
) -> None:
    """Import returned mail: `returned`, and the dossier's address flagged if it was wrong."""
    content = file.read_bytes()
    raise typer.Exit(report(_run(lambda app: tracking.import_returns(app, content))))
