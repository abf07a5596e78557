"""`comms ledger …`: the delivery log for compliance and operators."""

from __future__ import annotations

import typer

from comms.app import build_ledger
from comms.cli.console import console, err
from comms.settings import load_settings

cli = typer.Typer(help="The delivery log.", no_args_is_help=True)


@cli.command("verify")
def verify() -> None:
    """Recompute the hash chain; name the first broken row."""
    result = build_ledger(load_settings()).verify()
    if result.ok:
        console.print(f"Ledger intact: {result.checked} rows verified.")
        return
    err.print(f"Ledger BROKEN at row {result.first_broken_seq}: {result.reason}")
    raise typer.Exit(1)
