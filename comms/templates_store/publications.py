"""Publication requests and their decisions: who asked, who approved or refused, when, and why.

Four eyes: the person who approves is never the person who asked. A publication holds one
version per (document type, language) it changes; the last approved version of each is live.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from comms.errors import CommsError
from comms.ledger.engine import WRITE_OPTION
from comms.models import Language
from comms.templates_store.schema import (
    NAME_MAX,
    template_decisions,
    template_publication_items,
    template_publications,
)


class State(str, Enum):
    """Where a publication request stands."""

    PENDING = "pending"  # waiting for a second person
    APPROVED = "approved"  # live: its versions render letters from now on
    REJECTED = "rejected"  # refused by the second person, with a reason


class PublishingRefused(CommsError):
    """The request or decision cannot be recorded; the message says why and what to do."""


@dataclass(frozen=True)
class Item:
    """One (document type, language) a publication changes, and the version it replaces."""

    doc_type: str
    language: Language
    version: str
    previous_version: str | None


@dataclass(frozen=True)
class Publication:
    """A request to publish, with its decision once taken."""

    id: int
    requested_by: str
    requested_at: datetime
    note: str | None
    check_summary: str
    items: tuple[Item, ...]
    state: State
    decided_by: str | None = None
    decided_at: datetime | None = None
    reason: str | None = None


def same_person(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _name(name: str) -> str:
    cleaned = " ".join(name.split())
    if not cleaned or len(cleaned) > NAME_MAX:
        raise PublishingRefused(f"a name is required (at most {NAME_MAX} characters)")
    return cleaned


class Publications:
    """Reads and writes requests and decisions; each write is one short transaction."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None) -> None:
        self._engine = engine
        self._writer = engine.execution_options(**{WRITE_OPTION: True})
        self._clock = clock or (lambda: datetime.now(UTC))

    def request(
        self, *, by: str, items: Iterable[Item], check_summary: str, note: str | None = None
    ) -> Publication:
        """Records a request for approval; the versions must already be stored."""
        chosen = list(items)
        if not chosen:
            raise PublishingRefused("nothing to publish: the published versions are up to date")
        with self._writer.begin() as conn:
            new_id = conn.execute(
                template_publications.insert().values(
                    requested_by=_name(by),
                    requested_at=self._clock(),
                    note=note or None,
                    check_summary=check_summary,
                )
            ).inserted_primary_key
            assert new_id is not None
            publication_id = int(new_id[0])
            conn.execute(
                template_publication_items.insert(),
                [
                    {
                        "publication_id": publication_id,
                        "doc_type": i.doc_type,
                        "language": i.language.value,
                        "version": i.version,
                        "previous_version": i.previous_version,
                    }
                    for i in chosen
                ],
            )
        return self.get(publication_id)

    def decide(
        self, publication_id: int, *, by: str, approve: bool, reason: str | None = None
    ) -> Publication:
        """Approves or rejects, once, by someone other than the requester."""
        decider = _name(by)
        if not approve and not (reason and reason.strip()):
            raise PublishingRefused("say why the publication is rejected (a reason is required)")
        try:
            with self._writer.begin() as conn:
                current = self._load(conn, publication_id)
                if current.state is not State.PENDING:
                    raise PublishingRefused(
                        f"publication {publication_id} was already {current.state.value} by "
                        f"{current.decided_by} on {current.decided_at:%Y-%m-%d %H:%M} UTC"
                    )
                if same_person(current.requested_by, decider):
                    raise PublishingRefused(
                        f"{decider} asked for this publication; a second person must approve or "
                        "reject it (four eyes)"
                    )
                conn.execute(
                    template_decisions.insert().values(
                        publication_id=publication_id,
                        decision=(State.APPROVED if approve else State.REJECTED).value,
                        decided_by=decider,
                        decided_at=self._clock(),
                        reason=(reason or "").strip() or None,
                    )
                )
        except IntegrityError:  # someone decided between our read and our write
            raise PublishingRefused(f"publication {publication_id} was decided meanwhile") from None
        return self.get(publication_id)

    def get(self, publication_id: int) -> Publication:
        with self._engine.connect() as conn:
            return self._load(conn, publication_id)

    def _load(self, conn: Connection, publication_id: int) -> Publication:
        found = self._select(conn, [publication_id])
        if not found:
            raise PublishingRefused(f"there is no publication {publication_id}")
        return found[0]

    def history(self, doc_type: str | None = None, limit: int = 100) -> list[Publication]:
        """Newest first; only those touching `doc_type` when given."""
        query = sa.select(template_publications.c.id).order_by(template_publications.c.id.desc())
        if doc_type is not None:
            touching = sa.select(template_publication_items.c.publication_id).where(
                template_publication_items.c.doc_type == doc_type
            )
            query = query.where(template_publications.c.id.in_(touching))
        with self._engine.connect() as conn:
            ids = list(conn.execute(query.limit(limit)).scalars())
            return self._select(conn, ids)

    def live_versions(self) -> dict[tuple[str, Language], str]:
        """The version that renders each (document type, language): its last approval."""
        items, decisions = template_publication_items, template_decisions
        query = (
            sa.select(items.c.doc_type, items.c.language, items.c.version)
            .join(decisions, decisions.c.publication_id == items.c.publication_id)
            .where(decisions.c.decision == State.APPROVED.value)
            .order_by(decisions.c.decided_at, decisions.c.publication_id)
        )
        with self._engine.connect() as conn:
            return {(r.doc_type, Language(r.language)): r.version for r in conn.execute(query)}

    @staticmethod
    def _select(conn: Connection, ids: list[int]) -> list[Publication]:
        if not ids:
            return []
        pubs = {
            r.id: r
            for r in conn.execute(
                sa.select(template_publications).where(template_publications.c.id.in_(ids))
            )
        }
        items: dict[int, list[Item]] = {}
        for r in conn.execute(
            sa.select(template_publication_items)
            .where(template_publication_items.c.publication_id.in_(ids))
            .order_by(template_publication_items.c.doc_type, template_publication_items.c.language)
        ):
            items.setdefault(r.publication_id, []).append(
                Item(r.doc_type, Language(r.language), r.version, r.previous_version)
            )
        decisions = {
            r.publication_id: r
            for r in conn.execute(
                sa.select(template_decisions).where(template_decisions.c.publication_id.in_(ids))
            )
        }
        out = []
        for pid in ids:
            if pid not in pubs:
                continue
            p, d = pubs[pid], decisions.get(pid)
            out.append(
                Publication(
                    id=p.id,
                    requested_by=p.requested_by,
                    requested_at=p.requested_at,
                    note=p.note,
                    check_summary=p.check_summary,
                    items=tuple(items.get(pid, [])),
                    state=State(d.decision) if d else State.PENDING,
                    decided_by=d.decided_by if d else None,
                    decided_at=d.decided_at if d else None,
                    reason=d.reason if d else None,
                )
            )
        return out
