"""The report's tables as CSV, one file per table, for the RSVZ/INASTI and the FPS."""

from __future__ import annotations

import csv
import io
from dataclasses import astuple, fields
from pathlib import Path
from typing import Any

from comms.reporting.model import CountRow, DecisionRow, NoticeRow, RateRow, Report

TABLES: dict[str, type[Any]] = {
    "counts": CountRow,
    "rates": RateRow,
    "notices": NoticeRow,
    "decisions": DecisionRow,
}


def rows_of(report: Report, table: str) -> list[Any]:
    tables: dict[str, list[Any]] = {
        "counts": report.counts,
        "rates": report.rates,
        "notices": report.notices,
        "decisions": report.decisions,
    }
    return tables[table]


def csv_text(report: Report, table: str) -> str:
    """One table as CSV text: a header of field names, dates ISO, empty for unknown."""
    if table not in TABLES:
        raise ValueError(f"unknown table {table!r}: one of {', '.join(TABLES)}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in fields(TABLES[table])])
    for row in rows_of(report, table):
        writer.writerow([_cell(v) for v in astuple(row)])
    return out.getvalue()


def write_csvs(report: Report, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        path = out_dir / f"{table}.csv"
        path.write_text(csv_text(report, table), encoding="utf-8")
        written.append(path)
    return written


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return value.isoformat() if hasattr(value, "isoformat") else str(value)
