"""A world to inspect: every sample sent through the real pipeline, on SQLite or PostgreSQL.

Tracking (bounces, returned letters) is another area's work; the two rows it would write are
appended here the way it appends them, so the reports have something to count.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from comms.api.auth import token_digest
from comms.app import App, build_app
from comms.compose.pdf import PdfMaker
from comms.embedded import embedded_services
from comms.events import parse_event
from comms.models import ChannelName, Status
from comms.samples import all_samples, load_sample
from comms.settings import ApiUser, Settings, load_settings
from tests.fakes import StubPdf
from tests.ledger.conftest import pg_database  # noqa: F401 - the session's PostgreSQL database

ISSUED = date(2027, 1, 4)
OFFICER, OFFICER_TOKEN = "alice", "compliance-token"
PRODUCER_TOKEN = "producer-token"
USERS = [
    ApiUser(name=OFFICER, roles=["compliance"], token_sha256=token_digest(OFFICER_TOKEN)),
    ApiUser(name="upstream", roles=["producer"], token_sha256=token_digest(PRODUCER_TOKEN)),
]
PERSON = "85073003328"  # the Dutch samples' member
OTHER_PERSON = "01010122296"  # the French samples' member
NO_DIGITAL_USER = "0474028805"  # published in eBox, never reads it: paper follows


@dataclass
class World:
    settings: Settings  # COMMS_* of this world (data folder, database, API users)
    app: App
    dialect: str

    def env(self) -> dict[str, str]:
        """The environment a `comms` subprocess needs to find this world."""
        return {
            "COMMS_ENVIRONMENT": "test",
            "COMMS_DATA_DIR": str(self.settings.data_dir),
            "COMMS_DATABASE_URL": self.settings.database_url,
        }


@contextmanager
def pg_schema(base: str) -> Iterator[str]:
    """A fresh schema first on the search_path, dropped afterwards (as tests/ledger does)."""
    schema = f"c_{secrets.token_hex(6)}"
    engine = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        url = sa.make_url(base).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        engine.dispose()


@contextmanager
def database(dialect: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if dialect == "sqlite":
        yield f"sqlite:///{folder / 'comms.db'}"
        return
    with pg_schema(request.getfixturevalue("pg_database")) as url:
        yield url


async def send_everything(app: App) -> None:
    """Every sample, plus a company that never reads its eBox (so paper follows)."""
    async with app:
        for _, raw in sorted(all_samples(ISSUED).items()):  # the story of ISSUED
            outcome = await app.pipeline.process(parse_event(raw), issued_on=ISSUED)
            assert outcome.verdict == "sent", outcome
        raw = load_sample("company-contribution-notice-fr", ISSUED)
        raw["event_id"] = "sample-company-contribution-ndu"
        raw["recipient"]["ebox"] = {"has_ebox": True}
        outcome = await app.pipeline.process(parse_event(raw), issued_on=ISSUED)
        assert outcome.verdict == "sent", outcome


def track(app: App) -> None:
    """What tracking records later: the Dutch notice's email bounced, a formal notice came back."""
    for event_id, channel, status, evidence in (
        ("sample-contribution-notice-nl", ChannelName.EMAIL, Status.BOUNCED, {"dsn": "5.1.1"}),
        ("sample-formal-notice-fr", ChannelName.POST, Status.RETURNED, {"return_reason": "moved"}),
    ):
        sent = next(
            e
            for e in app.ledger.history(event_id)
            if e.channel is channel and e.status is Status.DISPATCHED
        )
        app.ledger.record(
            event_id=event_id,
            status=status,
            communication_id=sent.communication_id,
            channel=channel,
            reason=f"{status.value} (tracking)",
            evidence=evidence,
            document_sha256=sent.document_sha256,
        )


def make_world(
    dialect: str,
    folder: Path,
    url: str,
    clock: Callable[[], datetime] | None = None,
    pdf: PdfMaker | None = None,
) -> World:
    """`pdf`: WeasyPrint unless given. The shared worlds use stub PDFs: their tests fetch, hash and
    serve the archived documents, never read what a letter says (tests/compose does)."""
    base = load_settings(environment="test", data_dir=folder / "var", database_url=url)
    with embedded_services(base, no_digital_users=(NO_DIGITAL_USER,)) as emb:
        settings = emb.settings.model_copy(update={"api_users": USERS})
        app = build_app(settings, pdf=pdf, clock=clock)
        # In a thread of its own: a browser test may hold this thread's event loop already.
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(asyncio.run, send_everything(app)).result()
    track(app)
    return World(settings=settings, app=app, dialect=dialect)


def _world(
    dialect: str, request: pytest.FixtureRequest, folders: pytest.TempPathFactory
) -> Iterator[World]:
    folder = folders.mktemp(f"world-{dialect}")
    with database(dialect, request, folder) as url:
        made = make_world(dialect, folder, url, pdf=StubPdf())
        yield made
        made.app.ledger.close()


@pytest.fixture(scope="session")
def sqlite_world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    yield from _world("sqlite", request, tmp_path_factory)


@pytest.fixture(scope="session")
def postgresql_world(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    pg_database: str,  # noqa: F811 - dropped after this world's schema
) -> Iterator[World]:
    yield from _world("postgresql", request, tmp_path_factory)


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest) -> World:
    """Shared by the session's tests: they read it, and only add document openings to it.

    Each dialect's world is a fixture of its own, made once per process: a parametrized one is
    torn down whenever the next test has the other parameter, and xdist hands a process tests of
    both in any order, so each switch would send every sample again.
    """
    made: World = request.getfixturevalue(f"{request.param}_world")
    return made
