"""How long personal content is kept, per document type: the rule a purge applies and cites."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TYPE_CHECKING

from comms.models import BRUSSELS

if TYPE_CHECKING:
    from comms.settings import Settings


@dataclass(frozen=True)
class RetentionPolicy:
    """Years of retention per document type, counted from 1 January after the event (domain §9).

    What is purged at the end: the event snapshot and the archived document and wrappings. The
    chained entries (hashes only, no personal data in clear) and the tombstones stay.
    """

    years_by_type: Mapping[str, int] = field(default_factory=dict)
    default_years: int = 10
    rejected_years: int = 1  # invalid inputs: kept for upstream to fix, then purged

    def __post_init__(self) -> None:
        for years in (*self.years_by_type.values(), self.default_years, self.rejected_years):
            if not 0 <= years <= 100:
                raise ValueError("retention is between 0 and 100 years")

    @classmethod
    def from_settings(cls, settings: Settings) -> RetentionPolicy:
        return cls(
            years_by_type=dict(settings.retention_years),
            default_years=settings.retention_default_years,
            rejected_years=settings.retention_rejected_years,
        )

    def years_for(self, doc_type: str | None) -> int:
        if doc_type is None:
            return self.rejected_years
        return self.years_by_type.get(doc_type, self.default_years)

    def retained_until(self, doc_type: str | None, happened_at: datetime) -> date:
        """The first day on which the content may be purged."""
        local_year = happened_at.astimezone(BRUSSELS).year
        return date(local_year + 1 + self.years_for(doc_type), 1, 1)

    def rule(self, doc_type: str | None) -> str:
        """The rule in words, as the tombstone cites it."""
        what = doc_type if doc_type is not None else "rejected input"
        years = self.years_for(doc_type)
        return f"{what}: {years} years from 1 January after the event (settings retention)"
