"""An API over SQLite or PostgreSQL, with the service's users and our own Redis database."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from comms.api import create_api
from comms.api.auth import token_digest
from comms.app import App, build_app
from comms.ledger.schema import entries, rejections
from comms.settings import load_settings
from tests.compliance.conftest import database
from tests.ledger.conftest import pg_database  # noqa: F401 - the session's PostgreSQL database
from tests.service.conftest import (  # noqa: F401 - fixtures
    COMPLIANCE_TOKEN,
    OPERATOR_TOKEN,
    PRODUCER_TOKEN,
    api_users,
    redis_db,
    redis_url,
)

PRODUCER = {"Authorization": f"Bearer {PRODUCER_TOKEN}"}
COMPLIANCE = {"Authorization": f"Bearer {COMPLIANCE_TOKEN}"}
OPERATOR = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
OTHER_PRODUCER_TOKEN = "other-producer-token"
OTHER_PRODUCER = {"Authorization": f"Bearer {OTHER_PRODUCER_TOKEN}"}
STAFF_TOKEN = "staff-token"


@pytest.fixture(params=["sqlite", "postgresql"])
def comms_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    """The composition root over an empty ledger on either database."""
    with app_on(request.param, request, tmp_path) as app:
        yield app


@contextmanager
def app_on(dialect: str, request: pytest.FixtureRequest, folder: Path) -> Iterator[App]:
    """`app_over` a new ledger on `dialect` (tests/compliance's `database`), closed afterwards."""
    with database(dialect, request, folder) as url:
        app = app_over(folder, url, request.getfixturevalue("redis_url"))
        try:
            yield app
        finally:
            app.ledger.close()


def app_over(tmp_path: Path, url: str, redis: str) -> App:
    """The composition root over the ledger at `url`, with the API users the tests sign in as."""
    settings = load_settings(
        environment="test",
        data_dir=tmp_path / "var",
        database_url=url,
        redis_url=redis,
        api_users=[
            *api_users(),
            {
                "name": "other-upstream",
                "roles": ["producer"],
                "token_sha256": token_digest(OTHER_PRODUCER_TOKEN),
            },
            {"name": "bart", "roles": ["staff"], "token_sha256": token_digest(STAFF_TOKEN)},
        ],
    )
    return build_app(settings)  # migrated


@pytest.fixture
def client(comms_app: App) -> Iterator[TestClient]:
    with TestClient(create_api(comms_app), raise_server_exceptions=False) as c:
        yield c


def post_event(
    client: TestClient, body: str | bytes | dict[str, Any], who: dict[str, str] = PRODUCER
) -> httpx.Response:
    content = body if isinstance(body, str | bytes) else json.dumps(body)
    headers = {**who, "Content-Type": "application/json"}
    return client.post("/events", content=content, headers=headers)


def chained_text(app: App) -> str:
    """Everything the chain and the rejections table hold in clear (not the sealed inputs)."""
    with app.ledger.engine.connect() as conn:
        rows = conn.execute(sa.select(entries)).mappings().all()
        kept = conn.execute(
            sa.select(rejections.c.event_id, rejections.c.source, rejections.c.errors)
        ).all()
    return "\n".join([*(json.dumps(dict(r), default=str) for r in rows), *map(str, kept)])
