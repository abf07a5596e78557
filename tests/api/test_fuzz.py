"""The whole HTTP API under generated requests (schemathesis, from its OpenAPI document).

On SQLite and PostgreSQL, each request sent to both: no answer >= 500, and no personal value of a
request (names, numbers, made-up field names, malformed ids) in any answer, log line, chained row
or rejection's errors. `bench/soak_api.py` runs the same soak longer; here FUZZ_EXAMPLES bounds
it for CI.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.soak_api import SOAK_TOKEN, Soak
from comms.api.auth import token_digest
from comms.app import App
from comms.settings import ApiUser
from tests.api.conftest import app_on

FUZZ_EXAMPLES = int(os.environ.get("COMMS_FUZZ_EXAMPLES", "20"))  # per operation and kind
EVERY_OPERATION = 9  # the OpenAPI document's operations today; more is fine, fewer is a loss


@pytest.fixture
def both_apps(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[list[App]]:
    """An app over SQLite and one over PostgreSQL, each with a user holding every role."""
    user = ApiUser(
        name="soak",
        roles=["producer", "compliance", "staff", "operator"],
        token_sha256=token_digest(SOAK_TOKEN),
    )
    with (
        app_on("sqlite", request, tmp_path / "sqlite") as lite,
        app_on("postgresql", request, tmp_path / "postgresql") as pg,
    ):
        for app in (lite, pg):
            app.settings.api_users.append(user)
        yield [lite, pg]


def test_no_server_error_and_no_personal_value_repeated(both_apps: list[App]) -> None:
    soak = Soak(both_apps)
    assert len(soak.operations()) >= EVERY_OPERATION
    soak.run(FUZZ_EXAMPLES)
    assert soak.counts["answers >= 500"] == 0, soak.problems
    assert soak.counts["personal values repeated"] == 0, soak.problems
    for target in soak.targets:  # each database took the whole stream and answered both ways
        counts = target.counts
        assert counts["requests"] > FUZZ_EXAMPLES * EVERY_OPERATION, counts
        assert counts["2xx"] > 0 and counts["4xx"] > 0, counts
