"""`comms report`'s figures from real sends: counts, the three rates, timeliness, charts."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

from comms.reporting import Period, build_report, csv_text, render_page
from comms.reporting.charts import stacked_bars
from tests.compliance.conftest import ISSUED, World


def test_counts_rates_and_timeliness(world: World) -> None:
    report = build_report(world.app.ledger, Period())
    communications = {
        e.communication_id for e in world.app.ledger.search(limit=1000) if e.communication_id
    }
    assert report.communications == len(communications)
    outcomes = {(r.channel, r.outcome) for r in report.counts}
    assert ("email", "bounced") in outcomes and ("post", "returned") in outcomes

    overall = {r.measure: r for r in report.rates if r.month == "all"}
    # One email bounced, one letter came back, one company never reads its eBox.
    assert overall["bounce"].counted == 1 and overall["bounce"].base >= 2
    assert overall["return"].counted == 1 and overall["return"].base >= 2
    assert overall["no_digital_user"].counted == 1
    assert overall["bounce"].rate == 1 / overall["bounce"].base

    # The samples fall due in 2027 and were sent now: all before their due date.
    notices = {r.doc_type: r for r in report.notices}
    assert notices["contribution_notice"].before_due == 2
    assert notices["company_contribution_notice"].before_due == 3
    assert all(r.late == 0 and r.not_sent == 0 for r in report.notices)
    decided = {d.event_id: d for d in report.decisions}
    assert len(decided) == 4
    nl = decided["sample-decision-nl"]
    assert nl.decision_date == ISSUED - timedelta(days=2) and nl.channel == "post" and nl.sent_on
    assert decided["sample-decision-fr"].delivered_on is not None  # eBox says delivered


def test_a_period_without_activity_is_empty_but_well_formed(world: World) -> None:
    report = build_report(world.app.ledger, Period(date(2001, 1, 1), date(2001, 2, 1)))
    assert report.counts == [] and report.notices == [] and report.decisions == []
    assert {r.base for r in report.rates} == {0}
    page = render_page(report)
    assert "No communication started in this period" in page and page.count("<svg") >= 5
    rows = list(csv.reader(io.StringIO(csv_text(report, "counts"))))
    assert rows == [["month", "doc_type", "channel", "outcome", "count"]]


def test_charts_escape_their_labels() -> None:
    svg = str(stacked_bars("<b>t</b>", ["<script>x</script>"], {"a&b": [1.0]}))
    assert "<script>" not in svg and "&lt;script&gt;" in svg and "a&amp;b" in svg
