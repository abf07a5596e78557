"""What the reports say, computed from the ledger: counts, rates and timeliness, by month."""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from comms.doctypes import types_with_date
from comms.ledger import Ledger
from comms.ledger.reports import CommunicationSummary, DatedEvent
from comms.models import BRUSSELS, ChannelName, Status

NOTICE_TYPES = types_with_date("due_date")  # timeliness against the due date
DECISION_TYPES = types_with_date("decision_date")  # days from decision to sending
ALL_MONTHS = "all"  # the month label of a total row

# Rates: (measure, channel, the states that count as "handed over", the state or flag counted).
BOUNCE, RETURN, NO_DIGITAL_USER = "bounce", "return", "no_digital_user"
MEASURE_LABELS = {
    BOUNCE: "Email bounce rate",
    RETURN: "Post return rate",
    NO_DIGITAL_USER: "eBox NO_DIGITAL_USER rate",
}
_MEASURES: tuple[tuple[str, ChannelName], ...] = (
    (BOUNCE, ChannelName.EMAIL),
    (RETURN, ChannelName.POST),
    (NO_DIGITAL_USER, ChannelName.EBOX),
)


@dataclass(frozen=True)
class Period:
    """Local (Brussels) days: from `since` included to `until` excluded; None is open."""

    since: date | None = None
    until: date | None = None

    def __post_init__(self) -> None:
        if self.since and self.until and self.since >= self.until:
            raise ValueError("the period must end after it starts")

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        def start(d: date | None) -> datetime | None:
            if d is None:
                return None
            return datetime.combine(d, time(0), BRUSSELS).astimezone(UTC)

        return start(self.since), start(self.until)

    def label(self) -> str:
        if self.since is None and self.until is None:
            return "all time"
        since = f"from {self.since.isoformat()}" if self.since else "up"
        until = f"to {self.until.isoformat()} (exclusive)" if self.until else "to now"
        return f"{since} {until}"


@dataclass(frozen=True)
class CountRow:
    month: str  # YYYY-MM, Brussels time, of the communication's first step
    doc_type: str
    channel: str
    outcome: str  # the communication's latest state
    count: int


@dataclass(frozen=True)
class RateRow:
    month: str  # YYYY-MM or "all"
    measure: str  # bounce | return | no_digital_user
    channel: str
    counted: int  # bounced, returned, or NO_DIGITAL_USER
    base: int  # communications handed over on that channel
    rate: float | None  # counted / base, None when nothing was handed over


@dataclass(frozen=True)
class NoticeRow:
    """Contribution notices by due month: sent before the due date, on or after it, or not yet."""

    due_month: str
    doc_type: str
    before_due: int
    late: int
    not_sent: int
    due_unknown: int
    median_days_ahead: float | None  # due date minus sending date, over the notices sent


@dataclass(frozen=True)
class DecisionRow:
    """One decision and its notification: the appeal period runs from it (charter art. 14)."""

    event_id: str
    dossier: str
    decision_date: date | None
    sent_on: date | None  # first hand-over to a channel, Brussels date
    channel: str
    delivered_on: date | None  # first delivered or read
    days_to_send: int | None


@dataclass(frozen=True)
class Report:
    period: Period
    generated_at: datetime
    counts: list[CountRow]
    rates: list[RateRow]
    notices: list[NoticeRow]
    decisions: list[DecisionRow]

    @property
    def communications(self) -> int:
        return sum(row.count for row in self.counts)


def build_report(ledger: Ledger, period: Period, *, now: datetime | None = None) -> Report:
    since, until = period.bounds()
    tally = Tally()
    for summary in ledger.communication_summaries(since, until):
        tally.add(summary)
    return Report(
        period=period,
        generated_at=now or datetime.now(UTC),
        counts=tally.counts(),
        rates=tally.rates(),
        notices=notices(ledger.dated_events(NOTICE_TYPES, "due_date", since, until)),
        decisions=decisions(ledger.dated_events(DECISION_TYPES, "decision_date", since, until)),
    )


def month_of(moment: datetime) -> str:
    return moment.astimezone(BRUSSELS).strftime("%Y-%m")


def local_date(moment: datetime | None) -> date | None:
    return moment.astimezone(BRUSSELS).date() if moment else None


class Tally:
    """Counts and rates in one pass over the communications, however many there are."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[str, str, str, str]] = Counter()
        self._counted: Counter[tuple[str, str]] = Counter()
        self._base: Counter[tuple[str, str]] = Counter()
        self._months: set[str] = set()

    def add(self, s: CommunicationSummary) -> None:
        month = month_of(s.started_at)
        channel = s.channel.value if s.channel else ""
        self._counts[(month, s.doc_type or "", channel, s.outcome.value)] += 1
        if not any(st.ever_handed_over for st in s.reached):
            return
        self._months.add(month)
        hits = {
            BOUNCE: Status.BOUNCED in s.reached,
            RETURN: Status.RETURNED in s.reached,
            NO_DIGITAL_USER: s.no_digital_user,
        }
        for measure, on in _MEASURES:
            if s.channel is on:
                for key in ((month, measure), (ALL_MONTHS, measure)):
                    self._base[key] += 1
                    self._counted[key] += hits[measure]

    def counts(self) -> list[CountRow]:
        return [CountRow(*key, count=n) for key, n in sorted(self._counts.items())]

    def rates(self) -> list[RateRow]:
        rows = []
        for month in [*sorted(self._months), ALL_MONTHS]:
            for measure, channel in _MEASURES:
                n, b = self._counted[(month, measure)], self._base[(month, measure)]
                rows.append(RateRow(month, measure, channel.value, n, b, n / b if b else None))
        return rows


def notices(dated: Iterable[DatedEvent]) -> list[NoticeRow]:
    groups: dict[tuple[str, str], list[DatedEvent]] = {}
    for d in dated:
        month = d.key_date.strftime("%Y-%m") if d.key_date else "unknown"
        groups.setdefault((month, d.doc_type), []).append(d)
    rows = []
    for (month, doc_type), items in sorted(groups.items()):
        ahead = [
            (d.key_date - sent).days
            for d in items
            if d.key_date and (sent := local_date(d.sent_at)) is not None
        ]
        rows.append(
            NoticeRow(
                due_month=month,
                doc_type=doc_type,
                before_due=sum(1 for days in ahead if days > 0),
                late=sum(1 for days in ahead if days <= 0),
                not_sent=sum(1 for d in items if d.key_date and d.sent_at is None),
                due_unknown=sum(1 for d in items if d.key_date is None),
                median_days_ahead=statistics.median(ahead) if ahead else None,
            )
        )
    return rows


def decisions(dated: Iterable[DatedEvent]) -> list[DecisionRow]:
    rows = []
    for d in dated:
        sent_on = local_date(d.sent_at)
        rows.append(
            DecisionRow(
                event_id=d.event_id,
                dossier=d.dossier,
                decision_date=d.key_date,
                sent_on=sent_on,
                channel=d.sent_channel.value if d.sent_channel else "",
                delivered_on=local_date(d.delivered_at),
                days_to_send=(sent_on - d.key_date).days if sent_on and d.key_date else None,
            )
        )
    return rows
