"""One set of search filters for the CLI, the API, the compliance page and the exports."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time
from typing import Any, TypeVar

import sqlalchemy as sa

from comms.ledger.schema import SHA256_HEX, entries, entry_evidence
from comms.models import ChannelName, Status


def evidence_value_hash(value: str) -> str:
    """What `entry_evidence` keeps of a value: fixed length, so any value fits the index."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


T = TypeVar("T")


class FilterProblem(ValueError):
    """A filter given as text is wrong: `field` names it; the message never quotes the value."""

    def __init__(self, field: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        super().__init__(f"{field}: {problem}")


class Unreadable(ValueError):
    """A filter value our own parser cannot read, said in words that never quote the value."""


class FilterText:
    """Filters given as text (a query string, command options): blanks are left out, and a value
    that does not parse raises FilterProblem naming its field, never quoting the value."""

    def __init__(self, values: Mapping[str, str | None]) -> None:
        self._given = {k: v.strip() for k, v in values.items() if v is not None and v.strip()}

    def get(self, name: str) -> str | None:
        return self._given.get(name)

    def parsed(self, name: str, parse: Callable[[str], T], problem: str | None = None) -> T | None:
        """Only an `Unreadable`'s own words are repeated: any other parser's may quote the value."""
        if name not in self._given:
            return None
        try:
            return parse(self._given[name])
        except Unreadable as exc:
            raise FilterProblem(name, problem or str(exc)) from None
        except ValueError:
            raise FilterProblem(name, problem or "not readable") from None


@dataclass(frozen=True)
class Filters:
    """Every criterion optional, combined with AND; `until` is exclusive.

    The person is given only as `subject_hmac`: callers hash the clear number with
    `Ledger.subject_hmac` on the way in, so a filter can be logged, put in a URL or kept.
    """

    subject_hmac: str | None = None
    dossier: str | None = None
    event_id: str | None = None
    communication_id: str | None = None
    doc_type: str | None = None
    channel: ChannelName | None = None
    status: Status | None = None
    since: datetime | None = None
    until: datetime | None = None
    evidence_key: str | None = None  # with evidence_value: e.g. a tracking number or eBox id
    evidence_value: str | None = None

    def __post_init__(self) -> None:
        if self.subject_hmac is not None and len(self.subject_hmac) != SHA256_HEX:
            raise Unreadable("subject_hmac is a 64-character hex digest")
        if (self.evidence_key is None) != (self.evidence_value is None):
            raise Unreadable("evidence needs both a key and a value")
        for moment in (self.since, self.until):
            if moment is not None and moment.tzinfo is None:
                raise Unreadable("since and until must carry a time zone")

    @classmethod
    def from_text(
        cls, values: Mapping[str, str | None], *, subject_hmac: str | None = None
    ) -> Filters:
        """Filters from text as the CLI and the API take them (`channel`, `status`, ISO or
        Brussels `since`/`until`, `evidence` as key=value); empty ones ignored. A bad value raises
        FilterProblem naming the field, never the value."""
        text = FilterText(values)
        key, value = text.parsed("evidence", parse_evidence) or (None, None)
        channel = text.parsed("channel", ChannelName, "unknown value")
        status = text.parsed("status", Status, "unknown value")
        since, until = text.parsed("since", parse_moment), text.parsed("until", parse_moment)
        try:
            return cls(
                subject_hmac=subject_hmac or text.parsed("subject_hmac", str.lower),
                dossier=text.get("dossier"),
                event_id=text.get("event_id"),
                communication_id=text.get("communication_id"),
                doc_type=text.get("doc_type"),
                channel=channel,
                status=status,
                since=since,
                until=until,
                evidence_key=key,
                evidence_value=value,
            )
        except Unreadable as exc:
            raise FilterProblem("filters", str(exc)) from None

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def as_params(self) -> dict[str, str]:
        """The filters as text (URL query, export header); enums by value, times in ISO 8601."""
        out: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, ChannelName | Status):
                out[f.name] = value.value
            elif isinstance(value, datetime):
                out[f.name] = value.isoformat()
            else:
                out[f.name] = str(value)
        return out

    def apply(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        """Adds this filter's conditions to a SELECT over `entries`."""
        equal: tuple[tuple[sa.Column[Any], str | None], ...] = (
            (entries.c.subject_hmac, self.subject_hmac),
            (entries.c.dossier, self.dossier),
            (entries.c.event_id, self.event_id),
            (entries.c.communication_id, self.communication_id),
            (entries.c.doc_type, self.doc_type),
            (entries.c.channel, self.channel.value if self.channel else None),
            (entries.c.status, self.status.value if self.status else None),
        )
        for column, value in equal:
            if value is not None:
                stmt = stmt.where(column == value)
        if self.since is not None:
            stmt = stmt.where(entries.c.at >= self.since)
        if self.until is not None:
            stmt = stmt.where(entries.c.at < self.until)
        if self.evidence_key is not None and self.evidence_value is not None:
            # The index is derived and hashed: callers re-check the row's own evidence.
            hits = sa.select(entry_evidence.c.seq).where(
                entry_evidence.c.key == self.evidence_key,
                entry_evidence.c.value_sha256 == evidence_value_hash(self.evidence_value),
            )
            stmt = stmt.where(entries.c.seq.in_(hits))
        return stmt


def parse_moment(text: str) -> datetime:
    """A day (`2027-03-31`: midnight in Brussels) or an ISO time; a time without zone is Brussels."""
    from comms.models import BRUSSELS

    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(0), BRUSSELS)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise Unreadable("not a date (YYYY-MM-DD) or an ISO 8601 time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=BRUSSELS)


def parse_evidence(text: str) -> tuple[str, str]:
    """`key=value`, as in `tracking_number=RR123456789BE`."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise Unreadable("evidence is written key=value")
    return key.strip(), value.strip()
