"""Exports of the log as CSV (spreadsheets) and JSONL (lossless), and reading them back.

Every column of `entries` is exported, `row_hash` and `prev_hash` included, so an export can be
re-verified away from the database: `read_*` gives rows that `verify_rows` accepts.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, Any, Literal

from comms.ledger.chain import format_at
from comms.ledger.queries import entry_from_row
from comms.ledger.records import Entry
from comms.ledger.schema import entries

Format = Literal["csv", "jsonl"]
FORMATS: tuple[Format, ...] = ("csv", "jsonl")
COLUMNS: tuple[str, ...] = tuple(c.name for c in entries.columns)
_INTEGERS = frozenset({"seq", "hash_version"})
_AT_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # chain.format_at: UTC to the microsecond


def to_record(row: Mapping[Any, Any]) -> dict[str, Any]:
    """A stored row as export values: `at` in the chain's own spelling, evidence as an object."""
    record = {name: row[name] for name in COLUMNS}
    record["at"] = format_at(row["at"])
    record["evidence"] = json.loads(row["evidence"])
    return record


def from_record(record: Mapping[Any, Any]) -> dict[str, Any]:
    """An export record back as a stored row (the inverse of `to_record`)."""
    row = dict(record)
    row["at"] = datetime.strptime(record["at"], _AT_FORMAT).replace(tzinfo=UTC)
    evidence = record["evidence"]
    row["evidence"] = json.dumps(
        evidence, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return row


def write(
    rows: Iterable[Mapping[Any, Any]],
    out: IO[str],
    fmt: Format,
    *,
    on_row: Callable[[], None] | None = None,
) -> int:
    """Writes every row; calls `on_row` after each (progress bars). Returns the count."""
    writer = _csv_writer(out) if fmt == "csv" else None
    n = 0
    for row in rows:
        _write_one(to_record(row), out, writer)
        n += 1
        if on_row is not None:
            on_row()
    return n


def pieces(rows: Iterable[Mapping[Any, Any]], fmt: Format, *, size: int = 500) -> Iterator[str]:
    """The export as text pieces of `size` rows (HTTP streaming); the CSV header comes once."""
    buffer = io.StringIO()
    writer = _csv_writer(buffer) if fmt == "csv" else None
    batch: list[Mapping[Any, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            _write_batch(batch, buffer, writer)
            batch.clear()
            yield _drain(buffer)
    _write_batch(batch, buffer, writer)
    if text := _drain(buffer):
        yield text


def _write_batch(
    rows: list[Mapping[Any, Any]], out: IO[str], writer: csv.DictWriter[str] | None
) -> None:
    for row in rows:
        _write_one(to_record(row), out, writer)


def _write_one(record: dict[str, Any], out: IO[str], writer: csv.DictWriter[str] | None) -> None:
    if writer is not None:
        record["evidence"] = json.dumps(record["evidence"], sort_keys=True, ensure_ascii=False)
        writer.writerow(record)
    else:
        out.write(json.dumps(record, ensure_ascii=False, sort_keys=True) + "\n")


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def _csv_writer(out: IO[str]) -> csv.DictWriter[str]:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    return writer


def read(src: IO[str], fmt: Format) -> Iterator[dict[str, Any]]:
    """Rows as stored, from an export (the chain can be recomputed over them)."""
    if fmt == "jsonl":
        for line in src:
            if line.strip():
                yield from_record(json.loads(line))
        return
    for record in csv.DictReader(src):
        values: dict[str, Any] = {
            # The ledger stores no empty text (comms/ledger/append.py), so an empty cell is NULL.
            k: (None if v == "" else v)
            for k, v in record.items()
        }
        for name in _INTEGERS:
            values[name] = int(values[name])
        values["evidence"] = json.loads(values["evidence"])
        yield from_record(values)


def read_entries(src: IO[str], fmt: Format) -> list[Entry]:
    return [entry_from_row(row) for row in read(src, fmt)]
