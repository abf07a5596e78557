"""The report as an HTML page with charts (and as a fragment the compliance page embeds)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import jinja2
from markupsafe import Markup

from comms.reporting.charts import stacked_bars
from comms.reporting.model import ALL_MONTHS, MEASURE_LABELS, Report

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
# Days from decision to sending; below zero means sent before the decision's own date (a data error).
DAY_BINS: tuple[tuple[int | None, int | None], ...] = (
    (None, -1),
    (0, 2),
    (3, 5),
    (6, 10),
    (11, 20),
    (21, 30),
    (31, None),
)


def charts(report: Report) -> dict[str, Markup]:
    """The page's pictures, each drawn from the same rows as the CSV tables."""
    months = sorted({r.month for r in report.counts})
    by_channel: dict[str, list[float]] = {}
    for channel in sorted({r.channel or "none" for r in report.counts}):
        by_channel[channel] = [
            float(
                sum(
                    r.count
                    for r in report.counts
                    if r.month == m and (r.channel or "none") == channel
                )
            )
            for m in months
        ]
    outcomes = Counter[str]()
    for r in report.counts:
        outcomes[r.outcome] += r.count
    outcome_names = sorted(outcomes)
    rate_months = sorted({r.month for r in report.rates if r.month != ALL_MONTHS})
    rate_series = {
        MEASURE_LABELS[measure]: [
            next(
                (r.rate or 0.0 for r in report.rates if r.month == m and r.measure == measure), 0.0
            )
            for m in rate_months
        ]
        for measure in MEASURE_LABELS
    }
    due_months = [r.due_month for r in report.notices]
    notices = {
        "before the due date": [float(r.before_due) for r in report.notices],
        "on or after it": [float(r.late) for r in report.notices],
        "not sent": [float(r.not_sent) for r in report.notices],
    }
    labels = [_bin_label(lo, hi) for lo, hi in DAY_BINS]
    days = [d.days_to_send for d in report.decisions if d.days_to_send is not None]
    histogram = [
        float(sum(1 for n in days if (lo is None or lo <= n) and (hi is None or n <= hi)))
        for lo, hi in DAY_BINS
    ]
    return {
        "per_month": stacked_bars("Communications per month, by channel", months, by_channel),
        "outcomes": stacked_bars(
            "Latest state of each communication",
            outcome_names,
            {"communications": [float(outcomes[o]) for o in outcome_names]},
        ),
        "rates": _grouped_rates(rate_months, rate_series),
        "notices": stacked_bars("Contribution notices, by due month", due_months, notices),
        "decisions": stacked_bars(
            "Decisions: days from decision to sending", labels, {"decisions": histogram}
        ),
    }


def _bin_label(lo: int | None, hi: int | None) -> str:
    if lo is None:
        return "before"
    return f"{lo}–{hi}" if hi is not None else f"{lo}+"


def _grouped_rates(months: list[str], series: dict[str, list[float]]) -> Markup:
    """One small chart per measure: stacking rates of different bases would add apples to pears."""
    return Markup("").join(
        stacked_bars(f"{name} per month", months, {name: values}, percent=True)
        for name, values in series.items()
    )


def render_fragment(report: Report) -> Markup:
    """The report's body (headings, charts, tables) for embedding in another page."""
    template = _ENV.get_template("report_body.html")
    html = template.render(r=report, charts=charts(report), labels=MEASURE_LABELS)
    return Markup(html)  # noqa: S704 - the output of an autoescaping environment


def render_page(report: Report) -> str:
    """A standalone page (the file `comms report` writes)."""
    return _ENV.get_template("report_page.html").render(body=render_fragment(report), r=report)
