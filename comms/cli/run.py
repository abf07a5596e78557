"""`comms demo | process | preview | schema`: run events through the pipeline in this process."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterable, Iterator
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from comms.app import App, build_app, build_composer
from comms.cli.console import console, err
from comms.errors import InvalidEvent, RenderRefused
from comms.events import AnyEvent, event_json_schema, parse_event
from comms.models import Language
from comms.pipeline import Outcome
from comms.samples import all_samples, sample_for
from comms.service.intake import Door, Intake
from comms.settings import load_settings

cli = typer.Typer()

EXIT_PROBLEMS = 2  # the batch ran to its end, but some events were rejected, refused or failed


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if line.strip():
                yield number, line


async def _run(app: App, items: Iterable[tuple[str, str]], door: Door) -> list[tuple[str, Outcome]]:
    """Every item through the one intake, then run here: no queue, no worker."""
    intake = Intake(app)
    results = []
    async with app:
        for source, raw in items:
            results.append((source, await intake.run(raw, source=source, door=door)))
    return results


def _report(app: App, results: list[tuple[str, Outcome]]) -> int:
    table = Table(title="What went where")
    for col in ("source", "type", "verdict", "channel", "state", "document"):
        table.add_column(col, overflow="fold")
    problems = 0
    for source, outcome in results:
        doc = str(app.archive.path(outcome.document_sha256)) if outcome.document_sha256 else ""
        if outcome.verdict in ("rejected", "refused", "failed", "conflict"):
            problems += 1
        rows = [(d.channel.value, d.status.value) for d in outcome.deliveries] or [("", "")]
        for channel, state in rows:
            table.add_row(source, outcome.doc_type or "", outcome.verdict, channel, state, doc)
    console.print(table)
    for source, outcome in results:
        for e in outcome.errors:
            err.print(f"[red]{source}[/red]: {e.field}: {e.message}")
        if outcome.verdict in ("refused", "conflict", "failed") and outcome.reason:
            err.print(f"[red]{source}[/red] ({outcome.event_id}): {outcome.reason}")
    counts: dict[str, int] = {}
    for _, o in results:
        counts[o.verdict] = counts.get(o.verdict, 0) + 1
    console.print("Summary: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    return EXIT_PROBLEMS if problems else 0


@cli.command()
def demo() -> None:
    """Run the built-in samples through the whole pipeline, with an SMTP sink and the eBox simulator."""
    from comms.embedded import embedded_services

    settings = load_settings()
    with embedded_services(settings) as emb:
        app = build_app(emb.settings)
        items = [(f"{name}.json", json.dumps(raw)) for name, raw in all_samples().items()]
        results = asyncio.run(_run(app, items, "demo"))
        code = _report(app, results)
        console.print(f"Ledger: {emb.settings.effective_database_url}")
        console.print(f"Archived PDFs: {emb.settings.archive_dir.resolve()}")
        console.print(f"Emails received by the SMTP sink: {emb.maildir.resolve()}")
        console.print(f"Post-print outbox: {emb.settings.post_dir.resolve()}")
        console.print(f"eBox messages published to the simulator: {len(emb.ebox.messages())}")
    raise typer.Exit(code)


@cli.command()
def process(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="Events, one JSON object per line.")
    ],
    embedded: Annotated[
        bool, typer.Option(help="Start the SMTP sink and the eBox simulator on loopback.")
    ] = True,
) -> None:
    """Process your own events (JSON Lines) through the pipeline, in this process."""
    settings = load_settings()
    items = [(f"{file.name}:{n}", line) for n, line in _lines(file)]
    if embedded:
        from comms.embedded import embedded_services

        with embedded_services(settings) as emb:
            app = build_app(emb.settings)
            code = _report(app, asyncio.run(_run(app, items, "file")))
    else:
        app = build_app(settings)
        code = _report(app, asyncio.run(_run(app, items, "file")))
    raise typer.Exit(code)


@cli.command()
def preview(
    doc_type: Annotated[str, typer.Argument(help="Document type, e.g. contribution_notice.")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Where to write: .pdf for the letter, .html or .txt for the email."
        ),
    ],
    lang: Annotated[
        Language | None, typer.Option("--lang", help="nl or fr (default: the event's language).")
    ] = None,
    event: Annotated[
        Path | None,
        typer.Option(
            "--event", exists=True, dir_okay=False, help="An event (JSON) instead of the sample."
        ),
    ] = None,
    issued_on: Annotated[
        str | None,
        typer.Option(
            help="Letter date, YYYY-MM-DD: the sample's day, or an event's date when it has no "
            "issue_date (default: today)."
        ),
    ] = None,
) -> None:
    """Render one letter (PDF) or its email (HTML/text) without sending or recording anything."""
    settings = load_settings()
    day = date.fromisoformat(issued_on) if issued_on else None
    raw: dict[str, Any]
    if event is not None:
        raw = json.loads(event.read_text(encoding="utf-8"))
    else:
        try:
            raw = sample_for(doc_type, (lang or Language.NL).value, today=day)
        except KeyError:
            err.print(f"No sample for {doc_type!r}. Known types: see `comms schema`.")
            raise typer.Exit(1) from None
    try:
        parsed: AnyEvent = parse_event(raw)
    except InvalidEvent as exc:
        for e in exc.errors:
            err.print(f"{e.field}: {e.message}")
        raise typer.Exit(1) from None
    if parsed.type != doc_type:
        err.print(f"The event is a {parsed.type}, not a {doc_type}.")
        raise typer.Exit(1)
    if lang is not None and parsed.recipient.language is not lang:
        err.print(
            f"The event is in {parsed.recipient.language.value}; a letter is never rendered in another language."
        )
        raise typer.Exit(1)
    composer = build_composer(settings)
    try:
        if out.suffix == ".pdf":
            out.write_bytes(composer.compose(parsed, issued_on=day).document.pdf)
        else:
            texts = composer.render_texts(parsed, issued_on=day)
            out.write_text(
                texts.email_text if out.suffix == ".txt" else texts.email_html, encoding="utf-8"
            )
    except RenderRefused as exc:
        err.print(f"Refused: {exc}")
        raise typer.Exit(1) from None
    console.print(f"Wrote {out}")


@cli.command()
def schema() -> None:
    """Print the JSON Schema of events, for upstream developers."""
    sys.stdout.write(json.dumps(event_json_schema(), indent=2, ensure_ascii=False) + "\n")
