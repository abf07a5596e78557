"""`comms ledger search|export|views|subject|purge|verify` and `comms report`, as operators type them."""

from __future__ import annotations

import csv
import dataclasses
import getpass
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer.main

from comms.cli.ledger import FilterOptions, cli
from comms.ledger import Filters
from comms.ledger.export import read_entries
from tests.commands import Ran
from tests.commands import comms as run
from tests.compliance.conftest import (
    NO_DIGITAL_USER,
    OTHER_PERSON,
    PERSON,
    World,
    database,
    make_world,
)
from tests.fakes import StubPdf


def comms(world: World, *args: str) -> Ran:
    """The command on this world's data folder and database."""
    return run(world.settings.data_dir.parent, *args, env={**world.env(), "COLUMNS": "250"})


def test_search_by_person_shows_rows_without_the_number(world: World) -> None:
    result = comms(world, "ledger", "search", "--subject", "85.07.30-033.28", "--limit", "5")
    assert result.returncode == 0, result.stderr
    total = world.app.ledger.count(Filters(subject_hmac=world.app.ledger.subject_hmac(PERSON)))
    assert f"5 of {total} rows" in result.stdout
    assert PERSON not in result.stdout + result.stderr
    bad = comms(world, "ledger", "search", "--subject", "84022711080")
    assert bad.returncode == 1 and "84022711080" not in bad.stdout + bad.stderr


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_export_reads_back_to_the_same_rows(world: World, tmp_path: Path, fmt: str) -> None:
    """The file, read back, is the log; the progress bar went to stderr, not into the file."""
    out = tmp_path / f"log.{fmt}"
    result = comms(world, "ledger", "export", "--format", fmt, "--out", str(out), "--progress")
    assert result.returncode == 0, result.stderr
    assert "Exporting" in result.stderr
    with out.open(encoding="utf-8", newline="") as src:
        back = read_entries(src, fmt)  # type: ignore[arg-type]
    assert back == sorted(world.app.ledger.search(limit=1000), key=lambda e: e.seq)
    assert f"Exported {len(back)} rows" in result.stderr


def test_a_filtered_export_to_stdout(world: World) -> None:
    result = comms(world, "ledger", "export", "--format", "csv", "--out", "-", "--type", "decision")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(result.stdout.splitlines()))
    assert rows and {r["doc_type"] for r in rows} == {"decision"}


def test_search_and_export_take_the_same_filter_options() -> None:
    """Both get theirs from FilterOptions, with the same flags, where each declares `filters`."""
    shared = [f.name for f in dataclasses.fields(FilterOptions)]
    group = typer.main.get_group(cli)
    flags = {}
    for name in ("search", "export"):
        params = group.commands[name].params
        assert [p.name for p in params if p.name in shared] == shared
        flags[name] = {p.name: p.opts for p in params if p.name in shared}
    assert flags["search"] == flags["export"]
    assert flags["search"]["doc_type"] == ["--type"]
    assert [p.name for p in group.commands["search"].params][-2:] == ["limit", "offset"]


def test_subject_access_export(world: World, tmp_path: Path) -> None:
    """Everything sent to one person: their log rows, data, PDFs (by hash), who opened them."""
    out = tmp_path / "access-request"
    result = comms(world, "ledger", "subject", PERSON, "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert PERSON not in result.stdout + result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    ledger = world.app.ledger
    mine = {e.event_id for e in ledger.events_of(ledger.subject_hmac(PERSON))}
    assert {e["event_id"] for e in manifest["events"]} == mine and len(
        mine
    ) == 8  # her story: eight letters
    theirs = {e.event_id for e in ledger.events_of(ledger.subject_hmac(OTHER_PERSON))}
    assert not theirs & mine
    for item in manifest["events"]:
        snapshot = json.loads((out / item["snapshot"]).read_text())
        assert snapshot["recipient"]["national_number"] == PERSON
        pdfs = [d for d in item["documents"] if d["kind"] == "document"]
        assert len(pdfs) == 1 and pdfs[0]["state"] == "included"
        data = (out / pdfs[0]["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == pdfs[0]["sha256"]
        rendered = [e for e in ledger.history(item["event_id"]) if e.document_sha256]
        assert rendered[0].document_sha256 == pdfs[0]["sha256"]
    with (out / "entries.jsonl").open() as src:
        assert {e.event_id for e in read_entries(src, "jsonl")} == mine
    assert (out / "entries.jsonl").stat().st_mode & 0o077 == 0  # private to its owner
    # Copying the PDFs was an opening of each, recorded under the operator's account.
    viewers = {v.viewer for v in ledger.views(limit=1000) if v.event_id in mine}
    assert f"cli:{getpass.getuser()}" in viewers
    assert comms(world, "ledger", "subject", PERSON, "--out", str(out)).returncode == 1


def test_subject_export_can_list_instead_of_copy(world: World, tmp_path: Path) -> None:
    out = tmp_path / "listed"
    result = comms(world, "ledger", "subject", NO_DIGITAL_USER, "--out", str(out), "--no-documents")
    assert result.returncode == 0, result.stderr
    manifest = json.loads((out / "manifest.json").read_text())
    docs = [d for item in manifest["events"] for d in item["documents"]]
    assert docs and {d["state"] for d in docs} == {"listed"}
    assert all(Path(d["archive_path"]).is_file() for d in docs)
    assert not any((out / "documents").iterdir())


def test_views_and_verify(world: World) -> None:
    ledger = world.app.ledger
    sha = next(iter(ledger.documents_of("sample-tax-certificate-nl")))
    ledger.record_view(document_sha256=sha, event_id="sample-tax-certificate-nl", viewer="carol")
    views = comms(world, "ledger", "views", "--viewer", "carol")
    assert views.returncode == 0 and sha in views.stdout
    bad = comms(world, "ledger", "views", "--since", "yesterday")
    assert bad.returncode == 1 and "since" in bad.stderr and "yesterday" not in bad.stderr
    verify = comms(world, "ledger", "verify", "--archive")
    assert verify.returncode == 0, verify.stderr
    assert "Ledger intact" in verify.stdout and "documents intact" in verify.stdout


def test_report_writes_csv_and_a_page_with_charts(world: World, tmp_path: Path) -> None:
    out = tmp_path / "report"
    result = comms(world, "report", "--out", str(out))
    assert result.returncode == 0, result.stderr
    counts = list(csv.DictReader((out / "counts.csv").open()))
    assert sum(int(r["count"]) for r in counts) == len(
        {e.communication_id for e in world.app.ledger.search(limit=1000) if e.communication_id}
    )
    page = (out / "report.html").read_text()
    assert page.count("<svg") >= 5 and "<script" not in page
    for table in ("rates", "notices", "decisions"):
        assert (out / f"{table}.csv").read_text().count("\n") >= 2


@pytest.fixture(params=["sqlite", "postgresql"])
def old_world(request: pytest.FixtureRequest, tmp_path: Path) -> World:
    """Everything was sent in May 2015: retention (7 or 10 years) has ended for all of it.

    Purge removes files whatever they hold: stub PDFs spare rendering 17 letters per database.
    """
    dialect = str(request.param)
    with database(dialect, request, tmp_path) as url:
        made = make_world(
            dialect, tmp_path, url, clock=lambda: datetime(2015, 5, 4, 9, tzinfo=UTC), pdf=StubPdf()
        )
        yield made
        made.app.ledger.close()


def test_purge_keeps_verify_green(old_world: World) -> None:
    """`purge --before` today: snapshots and archived files go, tombstones stay, verify passes."""
    archive = old_world.settings.archive_dir
    assert list(archive.rglob("*.pdf"))
    dry = comms(old_world, "ledger", "purge", "--before", "2026-11-30", "--dry-run")
    assert dry.returncode == 0 and "Would purge: 19 event snapshots" in dry.stdout
    assert list(archive.rglob("*.pdf"))

    result = comms(old_world, "ledger", "purge", "--before", datetime.now(UTC).date().isoformat())
    assert result.returncode == 0, result.stderr
    assert "Purged: 19 event snapshots" in result.stdout
    assert "Ledger intact after purge" in result.stdout
    assert not list(archive.rglob("*.pdf")) and not list(archive.rglob("*.json"))
    verify = comms(old_world, "ledger", "verify", "--archive")
    assert verify.returncode == 0, verify.stderr
    assert "0 documents intact" in verify.stdout and "purged with a tombstone" in verify.stdout
    assert old_world.app.ledger.event_snapshot("sample-decision-nl") is None

    later = comms(old_world, "ledger", "purge", "--before", "2099-01-01")
    assert later.returncode == 1 and "later than today" in later.stderr
