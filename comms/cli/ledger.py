"""`comms ledger …`: the delivery log for compliance and operators."""

from __future__ import annotations

import base64
import dataclasses
import functools
import getpass
import inspect
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any, get_type_hints

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from comms.app import build_ledger
from comms.archive import Archive
from comms.cli.console import console, err
from comms.ledger import Filters, Ledger, RetentionPolicy, VerifyResult, ViewFilters
from comms.ledger.audit import audit_archive
from comms.ledger.checkpoints import Checkpoint
from comms.ledger.export import FORMATS, Format
from comms.ledger.subject import export_subject
from comms.models import ChannelName, Status
from comms.settings import SEAL_KEY_BYTES, Settings, load_settings, parse_seal_keys

cli = typer.Typer(help="The delivery log.", no_args_is_help=True)

PROGRESS_MIN_ROWS = 10_000  # exports this large show a progress bar on stderr by default
_KEYWORD = inspect.Parameter.KEYWORD_ONLY  # typer passes every option by name


def _open() -> tuple[Settings, Ledger]:
    settings = load_settings()
    return settings, build_ledger(settings)


def _actor() -> str:
    """Who runs the command, for tombstones and document views: the operating-system account."""
    return f"cli:{getpass.getuser()}"


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]")
    return typer.Exit(1)


# Shared filter options: the same set as GET /deliveries and the compliance page.
Subject = Annotated[
    str | None,
    typer.Option("--subject", help="national or enterprise number; hashed, never stored"),
]
Dossier = Annotated[str | None, typer.Option(help="dossier reference")]
EventId = Annotated[str | None, typer.Option("--event", help="event id")]
CommId = Annotated[str | None, typer.Option("--communication", help="communication id")]
DocType = Annotated[str | None, typer.Option("--type", help="document type")]
Channel = Annotated[ChannelName | None, typer.Option(help="channel")]
State = Annotated[Status | None, typer.Option("--status", help="state of the row")]
Since = Annotated[str | None, typer.Option(help="from (YYYY-MM-DD or ISO time, Brussels)")]
Until = Annotated[str | None, typer.Option(help="until, exclusive")]
Evidence = Annotated[
    str | None, typer.Option(help="evidence key=value, e.g. tracking_number=RR123456789BE")
]


@dataclass(frozen=True)
class FilterOptions:
    """The filter options as given on the command line: declared once for every command that
    filters rows, so `search` and `export` cannot drift apart."""

    subject: Subject = None
    dossier: Dossier = None
    event: EventId = None
    communication: CommId = None
    doc_type: DocType = None
    channel: Channel = None
    status: State = None
    since: Since = None
    until: Until = None
    evidence: Evidence = None

    def parse(self, ledger: Ledger) -> Filters:
        """Checked and the subject hashed; a bad option ends the command naming it, not its value."""
        try:
            hashed = ledger.subject_hmac(self.subject) if self.subject else None
            text = {
                "dossier": self.dossier,
                "event_id": self.event,
                "communication_id": self.communication,
                "doc_type": self.doc_type,
                "channel": self.channel.value if self.channel else None,
                "status": self.status.value if self.status else None,
                "since": self.since,
                "until": self.until,
                "evidence": self.evidence,
            }
            return Filters.from_text(text, subject_hmac=hashed)
        except ValueError as exc:  # the messages name the field, never the value
            raise _fail(str(exc)) from None


def with_filter_options(command: Callable[..., None]) -> Callable[..., None]:
    """Puts FilterOptions' fields among the command's options where it takes `filters`, and hands
    it their values as one FilterOptions (typer has no grouped options)."""
    shared = dataclasses.fields(FilterOptions)
    types = get_type_hints(FilterOptions, include_extras=True)
    params: list[inspect.Parameter] = []
    for own in inspect.signature(command, eval_str=True).parameters.values():
        if own.name == "filters":
            params += [
                inspect.Parameter(f.name, _KEYWORD, default=f.default, annotation=types[f.name])
                for f in shared
            ]
        else:
            params.append(own.replace(kind=_KEYWORD))

    @functools.wraps(command)
    def run(**values: Any) -> None:
        command(filters=FilterOptions(**{f.name: values.pop(f.name) for f in shared}), **values)

    run.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in params}
    return run


@cli.command("search")
@with_filter_options
def search(
    *,
    filters: FilterOptions,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
) -> None:
    """Rows of the log, newest first."""
    _, ledger = _open()
    parsed = filters.parse(ledger)
    found = ledger.search(parsed, limit=limit, offset=offset)
    table = Table(title=f"{len(found)} of {ledger.count(parsed)} rows")
    for col in ("seq", "at (UTC)", "event", "type", "channel", "state", "reason", "document"):
        table.add_column(col, overflow="fold")
    for e in found:
        table.add_row(
            str(e.seq),
            e.at.strftime("%Y-%m-%d %H:%M:%S"),
            e.event_id,
            e.doc_type or "",
            e.channel.value if e.channel else "",
            e.status.value,
            e.reason or "",
            (e.document_sha256 or "")[:16],
        )
    console.print(table)


@cli.command("export")
@with_filter_options
def export(
    out: Annotated[Path, typer.Option(help="file to write; '-' for stdout")],
    fmt: Annotated[str, typer.Option("--format", help="csv or jsonl")] = "csv",
    progress: Annotated[
        bool | None, typer.Option("--progress/--no-progress", help="default: on large exports")
    ] = None,
    *,
    filters: FilterOptions,
) -> None:
    """Every matching row, oldest first, with its hashes (JSONL is lossless and re-verifiable)."""
    if fmt not in FORMATS:
        raise _fail(f"--format is one of {', '.join(FORMATS)}")
    chosen: Format = "csv" if fmt == "csv" else "jsonl"
    _, ledger = _open()
    parsed = filters.parse(ledger)
    total = ledger.count(parsed)
    show = progress if progress is not None else total >= PROGRESS_MIN_ROWS
    bar = Progress(
        TextColumn("Exporting"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not show,
    )
    with bar, _Output(out) as stream:
        task = bar.add_task("export", total=total)
        written = ledger.export(parsed, stream, chosen, on_row=lambda: bar.advance(task))
    err.print(f"Exported {written} rows as {chosen}.")


class _Output:
    """stdout for '-', else a new file written in full or not at all."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.tmp = path.with_name(f".{path.name}.part")

    def __enter__(self) -> Any:
        if str(self.path) == "-":
            return sys.stdout
        self.stream = self.tmp.open("w", encoding="utf-8", newline="")
        return self.stream

    def __exit__(self, exc_type: object, *_: object) -> None:
        if str(self.path) == "-":
            return
        self.stream.close()
        if exc_type is None:
            self.tmp.replace(self.path)
        else:
            self.tmp.unlink(missing_ok=True)


@cli.command("views")
def views(
    document: Annotated[str | None, typer.Option(help="SHA-256 of the document")] = None,
    event: EventId = None,
    viewer: Annotated[str | None, typer.Option(help="staff account")] = None,
    since: Since = None,
    until: Until = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
) -> None:
    """Who opened which archived document, and when; newest first."""
    _, ledger = _open()
    try:
        filters = ViewFilters.from_text(
            {
                "document": document,
                "event_id": event,
                "viewer": viewer,
                "since": since,
                "until": until,
            }
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    table = Table(title="Document openings")
    for col in ("when (UTC)", "who", "event", "document", "through"):
        table.add_column(col, overflow="fold")
    for v in ledger.views(filters, limit=limit):
        table.add_row(
            v.viewed_at.strftime("%Y-%m-%d %H:%M:%S"),
            v.viewer,
            v.event_id or "",
            v.document_sha256,
            v.purpose or "",
        )
    console.print(table)


@cli.command("purge")
def purge(
    before: Annotated[
        str, typer.Option(help="purge what is past retention on this day (YYYY-MM-DD)")
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="say what would go")] = False,
) -> None:
    """Remove snapshots and archived documents past retention; tombstones keep `verify` green."""
    settings, ledger = _open()
    try:
        day = date.fromisoformat(before)
        report = ledger.purge(
            day,
            RetentionPolicy.from_settings(settings),
            Archive(settings.archive_dir),
            actor=_actor(),
            dry_run=dry_run,
        )
    except ValueError as exc:
        raise _fail(str(exc)) from None
    verb = "Would purge" if dry_run else "Purged"
    console.print(
        f"{verb}: {report.snapshots} event snapshots, {len(report.documents)} archived files, "
        f"{report.rejections} rejected inputs; {len(report.tombstones)} tombstones written."
    )
    if report.kept_shared:
        console.print(f"Kept {len(report.kept_shared)} files still used by retained events.")
    if report.missing_files:
        err.print(f"{report.missing_files} files were already missing from the archive.")
    result = ledger.verify()
    console.print(
        f"Ledger {'intact' if result.ok else 'BROKEN'} after purge: {result.checked} rows."
    )
    if not result.ok:
        raise typer.Exit(1)


@cli.command("checkpoint")
def checkpoint(
    append: Annotated[
        Path | None,
        typer.Option(help="also append the line to this file (keep it where comms cannot write)"),
    ] = None,
) -> None:
    """Verify both chains and print their heads as one line; keep it outside the database."""
    _, ledger = _open()
    result, point = ledger.checkpoint()  # one snapshot: the line pins exactly what was verified
    if not result.ok:
        raise _fail(f"{_broken(result)}; no checkpoint made.")
    line = point.to_line()
    print(line)
    if append is not None:
        try:
            with append.open("a+", encoding="utf-8") as out:
                out.seek(0, 2)
                if out.tell():  # the file's last line may lack its newline: never glue two
                    out.seek(out.tell() - 1)
                    if out.read(1) != "\n":
                        out.write("\n")
                out.write(line + "\n")
        except OSError as exc:
            raise _fail(
                f"Could not append to {append}: {exc.strerror}. Keep the line above."
            ) from None


@cli.command("new-seal-key")
def new_seal_key(
    key_id: Annotated[str, typer.Argument(help="a name for the key, e.g. 2027a")],
) -> None:
    """Print a fresh seal key as `id:base64` for COMMS_SEAL_KEYS (put it first, then reseal)."""
    line = f"{key_id}:{base64.b64encode(secrets.token_bytes(SEAL_KEY_BYTES)).decode('ascii')}"
    try:
        parse_seal_keys(line)
    except ValueError as exc:
        raise _fail(str(exc)) from None
    print(line)  # stdout alone, for a secrets store; never logged


@cli.command("reseal")
def reseal(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="count and check, change nothing")
    ] = False,
) -> None:
    """Reseal snapshots and rejected inputs with the current seal key, so older keys can go."""
    _, ledger = _open()
    try:
        report = ledger.reseal(dry_run=dry_run)
        after = None if dry_run else ledger.seal_census()
    except ValueError as exc:
        raise _fail(
            f"{exc}. The reseal stopped at that row's batch; batches before it stay resealed, "
            "and running it again once the key is configured carries on."
        ) from None
    for name, counts in (
        ("Event snapshots", report.before.snapshots),
        ("Rejected inputs", report.before.rejections),
    ):
        held = ", ".join(f"{key} {n}" for key, n in sorted(counts.items())) or "none held"
        console.print(f"{name} by seal key: {held}")
    verb = "Would reseal" if dry_run else "Resealed"
    console.print(
        f"{verb} with key {report.current_key!r}: {report.snapshots} snapshots, "
        f"{report.rejections} rejected inputs."
    )
    if after is not None:
        left = {k for k in (*after.snapshots, *after.rejections) if k != report.current_key}
        console.print(
            "Every held text is sealed with the current key: older keys may be removed."
            if not left
            else f"Still sealed with other keys: {', '.join(sorted(left))} (a process still running"
            " with the old COMMS_SEAL_KEYS? restart it, then reseal again)",
        )


@cli.command("subject")
def subject(
    number: Annotated[str, typer.Argument(help="national (INSZ/NISS) or enterprise number")],
    out: Annotated[Path, typer.Option(help="new folder for the export")],
    documents: Annotated[
        bool, typer.Option("--documents/--no-documents", help="copy the PDFs, or list their paths")
    ] = True,
) -> None:
    """Everything sent to one person or company (GDPR access request), into a private folder."""
    settings, ledger = _open()
    try:
        done = export_subject(
            ledger,
            Archive(settings.archive_dir),
            number,
            out,
            viewer=_actor(),
            include_documents=documents,
        )
    except (ValueError, FileExistsError) as exc:
        raise _fail(str(exc)) from None
    console.print(
        f"Wrote {done.out_dir}: {done.events} communications, {done.entries} log rows, "
        f"{done.documents} documents copied, {done.listed_only} listed, "
        f"{done.purged} purged, {done.views} recorded openings."
    )


@cli.command("verify")
def verify(
    archive: Annotated[
        bool, typer.Option("--archive", help="also re-hash every archived document (slow)")
    ] = False,
    checkpoints: Annotated[
        Path | None,
        typer.Option(
            help="a file of `comms ledger checkpoint` lines the log must still agree with"
        ),
    ] = None,
) -> None:
    """Recompute the hash chain; name the first broken row; check kept checkpoints."""
    settings, ledger = _open()
    result = ledger.verify()
    if result.ok:
        console.print(
            f"Ledger intact: {result.checked} rows verified, "
            f"{result.tombstones_checked} tombstones verified, "
            f"{result.events_checked} events agree with it."
        )
    else:
        err.print(_broken(result))
    problems = not result.ok
    if archive:
        audit = audit_archive(ledger, Archive(settings.archive_dir))
        console.print(
            f"Archive: {audit.intact} documents intact, {audit.purged} purged with a tombstone."
        )
        for sha in audit.missing:
            err.print(f"Archive: {sha} is missing and no tombstone accounts for it")
        for sha in audit.corrupted:
            err.print(f"Archive: {sha} no longer matches its hash")
        problems = problems or not audit.ok
    if checkpoints is not None:
        problems = _check_checkpoints(ledger, checkpoints, chain_ok=result.ok) or problems
    if problems:
        raise typer.Exit(1)


def _broken(result: VerifyResult) -> str:
    if result.first_broken_tombstone is not None:
        return f"Ledger BROKEN at tombstone {result.first_broken_tombstone}: {result.reason}"
    if result.first_broken_event is not None:
        return f"Ledger BROKEN at event {result.first_broken_event}: {result.reason}"
    return f"Ledger BROKEN at row {result.first_broken_seq}: {result.reason}"


def _check_checkpoints(ledger: Ledger, path: Path, *, chain_ok: bool) -> bool:
    """Prints what the kept checkpoints say; True if any disagrees, is unreadable, or none is."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        err.print(f"Checkpoints: {path}: {exc.strerror}")
        return True
    except UnicodeDecodeError:
        err.print(f"Checkpoints: {path} is not a text file")
        return True
    found: list[tuple[int, Checkpoint]] = []
    unreadable = 0
    for n, text in enumerate(lines, start=1):
        if text.strip():
            try:
                found.append((n, Checkpoint.from_line(text)))
            except ValueError as exc:
                err.print(f"Checkpoints: {path}, line {n}: {exc}")
                unreadable += 1
    if not found:
        err.print(f"Checkpoints: {path} holds no checkpoint")
        return True
    findings = ledger.check_checkpoints(found)
    for f in findings:
        err.print(f"Checkpoint line {f.line} disagrees ({f.chain}): {f.reason}")
    if not findings:
        held = f"{len(found)} agree with the log, the last of {found[-1][1].made_at}"
        console.print(
            f"Checkpoints: {held}."
            if chain_ok
            else f"Checkpoints: {held}, as stored; the chain itself is broken (above)."
        )
    return bool(findings) or unreadable > 0
