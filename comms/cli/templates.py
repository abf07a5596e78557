"""`comms templates …`: check the letters, publish them with a second person's approval, list versions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from comms.app import build_composer
from comms.cli.console import console, err
from comms.compose.check import check_templates
from comms.settings import load_settings

cli = typer.Typer(
    help="The letters' templates: check, publish, approve, history.", no_args_is_help=True
)


@cli.command("check")
def check(
    doc_types: Annotated[
        list[str] | None,
        typer.Argument(help="Document types to check (default: all), e.g. decision."),
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option("--templates", help="Templates folder (default: COMMS_TEMPLATES_DIR)."),
    ] = None,
    render: Annotated[
        bool, typer.Option(help="Also render every sample in both languages to a PDF.")
    ] = True,
) -> None:
    """Check the templates: same files in both languages, known variables, legal mentions, PDFs."""
    settings = load_settings()
    if templates is not None:
        settings = settings.model_copy(update={"templates_dir": templates})
    folder = settings.templates_dir
    try:
        report = check_templates(build_composer(settings), doc_types=doc_types, render=render)
    except ValueError as exc:
        err.print(str(exc))
        raise typer.Exit(1) from None
    for problem in report.problems:
        err.print(f"{problem.where}: {problem.what}", markup=False, highlight=False)
        err.print(f"    What to do: {problem.todo}", markup=False, highlight=False)
    if report.problems:
        err.print(f"{len(report.problems)} problem(s) in {folder}.")
        raise typer.Exit(1)
    console.print(f"Templates OK: {report.letters_made} letters rendered from the samples.")
