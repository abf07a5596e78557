"""Reports for the RSVZ/INASTI and the FPS Social Security: counts, rates, timeliness, charts."""

from comms.reporting.html import render_fragment, render_page
from comms.reporting.model import Period, Report, build_report
from comms.reporting.tables import TABLES, csv_text, write_csvs

__all__ = [
    "TABLES",
    "Period",
    "Report",
    "build_report",
    "csv_text",
    "render_fragment",
    "render_page",
    "write_csvs",
]
