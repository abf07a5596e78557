"""`comms report`: the figures for the RSVZ/INASTI and the FPS, as CSV files and an HTML page."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from comms.app import build_ledger
from comms.cli.console import console, err
from comms.reporting import Period, build_report, render_page, write_csvs
from comms.settings import load_settings

cli = typer.Typer()


@cli.command("report")
def report(
    out: Annotated[Path, typer.Option(help="folder for the CSV files and report.html")],
    since: Annotated[str | None, typer.Option(help="first day (YYYY-MM-DD, Brussels)")] = None,
    until: Annotated[str | None, typer.Option(help="day after the last (exclusive)")] = None,
) -> None:
    """Counts per type, channel, outcome and month; timeliness; bounce, return, NO_DIGITAL_USER."""
    try:
        period = Period(
            since=date.fromisoformat(since) if since else None,
            until=date.fromisoformat(until) if until else None,
        )
    except ValueError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    result = build_report(build_ledger(load_settings()), period)
    written = write_csvs(result, out)
    page = out / "report.html"
    page.write_text(render_page(result), encoding="utf-8")
    table = Table(title=f"Delivery report {period.label()}")
    for col in ("measure", "counted", "handed over", "rate"):
        table.add_column(col)
    for row in result.rates:
        if row.month == "all":
            rate = f"{row.rate * 100:.1f} %" if row.rate is not None else "–"
            table.add_row(row.measure, str(row.counted), str(row.base), rate)
    console.print(f"{result.communications} communications.")
    console.print(table)
    for path in [*written, page]:
        console.print(f"wrote {path}")
