"""Who opened which archived document, when (GDPR, domain §9): written once, searchable after."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from comms.ledger.filters import FilterText, parse_moment
from comms.ledger.records import DocumentView, from_row
from comms.ledger.schema import document_views

VIEWER_MAX = 200  # document_views.viewer
PURPOSE_MAX = 200  # document_views.purpose


@dataclass(frozen=True)
class ViewFilters:
    """Find openings by document, communication, staff member or time; `until` is exclusive."""

    document_sha256: str | None = None
    event_id: str | None = None
    viewer: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @classmethod
    def from_text(cls, values: Mapping[str, str | None]) -> ViewFilters:
        """As the CLI and the API take them (`document` is the SHA-256), read as `Filters` are."""
        text = FilterText(values)
        since, until = text.parsed("since", parse_moment), text.parsed("until", parse_moment)
        return cls(
            document_sha256=text.get("document"),
            event_id=text.get("event_id"),
            viewer=text.get("viewer"),
            since=since,
            until=until,
        )

    def apply(self, stmt: sa.Select[Any]) -> sa.Select[Any]:
        c = document_views.c
        for column, value in (
            (c.document_sha256, self.document_sha256),
            (c.event_id, self.event_id),
            (c.viewer, self.viewer),
        ):
            if value is not None:
                stmt = stmt.where(column == value)
        if self.since is not None:
            stmt = stmt.where(c.viewed_at >= self.since)
        if self.until is not None:
            stmt = stmt.where(c.viewed_at < self.until)
        return stmt


def insert_view(
    conn: Connection,
    *,
    document_sha256: str,
    event_id: str | None,
    viewer: str,
    purpose: str | None,
    at: datetime,
) -> DocumentView:
    if not 1 <= len(viewer) <= VIEWER_MAX:
        raise ValueError(f"viewer has 1 to {VIEWER_MAX} characters")
    purpose = purpose[:PURPOSE_MAX] if purpose else None
    values = {
        "document_sha256": document_sha256,
        "event_id": event_id,
        "viewer": viewer,
        "purpose": purpose,
        "viewed_at": at,
    }
    new_id = conn.execute(
        sa.insert(document_views).values(**values).returning(document_views.c.id)
    ).scalar_one()
    return DocumentView(
        id=int(new_id),
        document_sha256=document_sha256,
        event_id=event_id,
        viewer=viewer,
        purpose=purpose,
        viewed_at=at,
    )


def find_views(
    conn: Connection, filters: ViewFilters, *, limit: int, offset: int = 0
) -> list[DocumentView]:
    """Newest first."""
    stmt = filters.apply(sa.select(document_views)).order_by(document_views.c.id.desc())
    rows = conn.execute(stmt.limit(limit).offset(offset)).mappings()
    return [view_from_row(row) for row in rows]


def view_from_row(row: Any) -> DocumentView:
    return from_row(DocumentView, row, id=int)
