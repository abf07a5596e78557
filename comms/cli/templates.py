"""`comms templates …`: check the letters, publish them with a second person's approval, list versions."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from comms.app import working_composer
from comms.cli.console import console, err
from comms.compose.check import CheckReport, check_templates
from comms.doctypes import DOC_TYPES
from comms.models import Language
from comms.settings import load_settings
from comms.templates_store import Publication, PublishingRefused, TemplateStore, UnknownVersion
from comms.templates_store.publishing import CheckFailed, publish, working_versions

cli = typer.Typer(
    help="The letters' templates: check, publish, approve, history.", no_args_is_help=True
)

SHORT = 12  # characters of a version shown in tables; commands accept any unique prefix of 8+

By = Annotated[
    str | None,
    typer.Option("--by", help="Your name as it is recorded (default: your login name)."),
]


def _err(text: str) -> None:
    """Plain text (names and paths may hold brackets), never wrapped: easy to read and to grep."""
    err.print(text, markup=False, highlight=False, soft_wrap=True)


def _say(text: str) -> None:
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _print_problems(report: CheckReport) -> None:
    for problem in report.problems:
        _err(f"{problem.where}: {problem.what}")
        _err(f"    What to do: {problem.todo}")


def _who(by: str | None) -> str:
    return by or getpass.getuser()


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
    composer = working_composer(load_settings(), templates_dir=templates)
    try:
        report = check_templates(composer, doc_types=doc_types, render=render)
    except ValueError as exc:
        _err(str(exc))
        raise typer.Exit(1) from None
    _print_problems(report)
    if report.problems:
        _err(f"{len(report.problems)} problem(s) in {composer.templates_dir}.")
        raise typer.Exit(1)
    _say(f"Templates OK: {report.letters_made} letters rendered from the samples.")


@cli.command("publish")
def publish_command(
    doc_types: Annotated[
        list[str] | None,
        typer.Argument(help="Document types to publish (default: every one that changed)."),
    ] = None,
    by: By = None,
    note: Annotated[
        str | None, typer.Option("--note", help="What changed and why, for the approver.")
    ] = None,
) -> None:
    """Check the working copy, store it, and ask a second person to approve it."""
    settings = load_settings()
    with TemplateStore.from_settings(settings) as store:
        try:
            outcome = publish(
                store,
                settings.templates_dir,
                by=_who(by),
                note=note,
                doc_types=doc_types,
                make_composer=lambda folder: working_composer(settings, templates_dir=folder),
                check=lambda composer, types: check_templates(composer, doc_types=types),
            )
        except CheckFailed as exc:
            _print_problems(exc.report)
            _err(f"Not published: {exc}")
            raise typer.Exit(1) from None
        except PublishingRefused as exc:
            _err(f"Not published: {exc}")
            raise typer.Exit(1) from None
    if outcome.publication is None:
        _say("Nothing to publish: the approved versions are the same as the working copy.")
        return
    p = outcome.publication
    _show(p)
    _say(
        f"Publication {p.id} waits for a second person: comms templates approve {p.id} "
        f"(or reject {p.id} --reason …). Until then the approved versions stay in use."
    )


@cli.command("approve")
def approve(
    publication_id: Annotated[int, typer.Argument(help="The publication's number.")],
    by: By = None,
) -> None:
    """Approve someone else's publication: its versions render letters from now on."""
    _decide(publication_id, by=_who(by), approve=True, reason=None)


@cli.command("reject")
def reject(
    publication_id: Annotated[int, typer.Argument(help="The publication's number.")],
    reason: Annotated[str, typer.Option("--reason", help="Why, for the person who asked.")],
    by: By = None,
) -> None:
    """Refuse someone else's publication, saying why; nothing changes in the letters."""
    _decide(publication_id, by=_who(by), approve=False, reason=reason)


def _decide(publication_id: int, *, by: str, approve: bool, reason: str | None) -> None:
    with TemplateStore.from_settings(load_settings()) as store:
        try:
            p = store.publications.decide(publication_id, by=by, approve=approve, reason=reason)
        except PublishingRefused as exc:
            _err(f"Not recorded: {exc}")
            raise typer.Exit(1) from None
    _show(p)


@cli.command("show")
def show(
    publication_id: Annotated[int, typer.Argument(help="The publication's number.")],
) -> None:
    """What a publication changes, file by file, against the versions it replaces."""
    with TemplateStore.from_settings(load_settings()) as store:
        try:
            p = store.publications.get(publication_id)
        except PublishingRefused as exc:
            _err(str(exc))
            raise typer.Exit(1) from None
        _show(p)
        for item in p.items:
            console.rule(f"{item.language.value}/{item.doc_type}")
            changes = store.snapshots.changes(item.previous_version, item.version)
            for change in changes:
                _say(f"{change.status}: {change.path}")
                if change.diff:
                    _say(change.diff)


def _show(p: Publication) -> None:
    decided = (
        f"{p.state.value} by {p.decided_by} on {p.decided_at:%Y-%m-%d %H:%M} UTC"
        if p.decided_at
        else p.state.value
    )
    _say(
        f"Publication {p.id}: asked by {p.requested_by} on {p.requested_at:%Y-%m-%d %H:%M} UTC; "
        f"{decided}."
    )
    if p.reason:
        _say(f"Reason: {p.reason}")
    if p.note:
        _say(f"Note: {p.note}")
    _say(p.check_summary)
    for item in p.items:
        was = item.previous_version[:SHORT] if item.previous_version else "(first version)"
        _say(f"  {item.language.value}/{item.doc_type}: {item.version[:SHORT]}, was {was}")


@cli.command("history")
def history(
    doc_type: Annotated[str, typer.Argument(help="Document type, e.g. decision.")],
) -> None:
    """Every published version of a document type, with who asked, who approved, and when."""
    if doc_type not in DOC_TYPES:
        _err(f"Unknown document type {doc_type!r}; known: {', '.join(DOC_TYPES)}.")
        raise typer.Exit(1)
    settings = load_settings()
    with TemplateStore.from_settings(settings) as store:
        live = store.publications.live_versions()
        publications = store.publications.history(doc_type)
    working = working_versions(settings.templates_dir, [doc_type])
    table = Table(title=f"Versions of {doc_type}")
    for col in (
        "#",
        "lang",
        "version",
        "asked by",
        "asked at (UTC)",
        "decision",
        "by",
        "at (UTC)",
        "now",
    ):
        table.add_column(col, overflow="fold")
    for p in publications:
        for item in p.items:
            if item.doc_type != doc_type:
                continue
            now = []
            if live.get((doc_type, item.language)) == item.version:
                now.append("live")
            if working[(doc_type, item.language)] == item.version:
                now.append("= working copy")
            table.add_row(
                str(p.id),
                item.language.value,
                item.version[:SHORT],
                p.requested_by,
                f"{p.requested_at:%Y-%m-%d %H:%M}",
                p.state.value + (f": {p.reason}" if p.reason else ""),
                p.decided_by or "",
                f"{p.decided_at:%Y-%m-%d %H:%M}" if p.decided_at else "",
                ", ".join(now),
            )
    console.print(table)
    for lang in Language:
        if (doc_type, lang) not in live:
            _say(f"{lang.value}: no approved version yet.")


@cli.command("status")
def status() -> None:
    """For each document type and language: the working copy against the approved version."""
    settings = load_settings()
    with TemplateStore.from_settings(settings) as store:
        live = store.publications.live_versions()
        pending = [p for p in store.publications.history() if p.state.value == "pending"]
    working = working_versions(settings.templates_dir, DOC_TYPES)
    table = Table(title="Templates: working copy and approved versions")
    for col in ("type", "lang", "working copy", "approved (live)", "state"):
        table.add_column(col)
    for (doc_type, lang), version in working.items():
        approved = live.get((doc_type, lang))
        state = (
            "never published" if approved is None else "same" if approved == version else "changed"
        )
        table.add_row(
            doc_type, lang.value, version[:SHORT], approved[:SHORT] if approved else "", state
        )
    console.print(table)
    for p in pending:
        _say(f"Publication {p.id} by {p.requested_by} waits for approval.")


@cli.command("export")
def export(
    version: Annotated[
        str, typer.Argument(help="A version (from the ledger or history); 8+ characters.")
    ],
    out: Annotated[
        Path, typer.Option("--out", help="A new or empty folder to write the files to.")
    ],
) -> None:
    """Write the files of an earlier version, e.g. to re-render exactly what was sent."""
    with TemplateStore.from_settings(load_settings()) as store:
        try:
            info = store.snapshots.resolve(version)
            paths = store.trees.export(info, out)
        except (UnknownVersion, FileExistsError) as exc:
            _err(str(exc))
            raise typer.Exit(1) from None
    _say(
        f"Wrote {len(paths)} files of {info.language.value}/{info.doc_type} version "
        f"{info.version} to {out}. Render from them with COMMS_TEMPLATES_DIR={out}."
    )
