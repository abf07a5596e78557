"""The eBox simulator holds the registry's rules, so the client is tested against a strict peer."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import jwt
import pytest

from channels.ebox_auth import CLIENT_ASSERTION_TYPE, TokenSource
from channels.ebox_simulator import SimulatorServer, generate_key_pair
from channels.ebox_simulator.rules import valid_enterprise_number, valid_ssin

PUBLISH_SCOPE = "scope:document:management:consult:ws-eboxrestentreprise:publicationsender"
PREFERENCES_SCOPE = "scope:documentmanagement:ebox:enterprise:federation-rest:preference"
KBO_FUND = "0406798006"
SSIN_19XX = "85073003328"


def test_mod_97_checks_on_the_documented_numbers() -> None:
    """Domain §1: the valid fixtures pass; the eBox documentation's examples do not."""
    assert valid_ssin("85073003328")
    assert valid_ssin("01010122296")  # born in 2000 or later: "2" prefixed
    for invalid in ("84022711080", "71022722580", "01010122233", "8507300332"):
        assert not valid_ssin(invalid)
    for valid in ("0406798006", "0852093431", "0220916609", "0474028805"):
        assert valid_enterprise_number(valid)
    assert not valid_enterprise_number("0123456789")


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        yield client


@pytest.fixture
def tokens(ebox_sim: SimulatorServer, ebox_keys: tuple[bytes, bytes]) -> TokenSource:
    return TokenSource(
        token_url=ebox_sim.token_url, client_id="comms-test", private_key_pem=ebox_keys[0]
    )


def message(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "sender": {"eboxType": "enterprise", "enterpriseNumber": KBO_FUND},
        "recipient": {"eboxType": "citizen", "ssin": SSIN_19XX},
        "subject": {"nl": "Onderwerp"},
        "messageTypeId": "t",
        "senderApplicationId": "a",
        "attachments": [{"httpPartName": "upfile1", "isMainContent": True}],
    }
    base.update(overrides)
    return base


async def publish(
    http: httpx.AsyncClient,
    sim: SimulatorServer,
    token: str,
    body: dict[str, Any],
    files: dict[str, tuple[str, bytes, str]],
) -> httpx.Response:
    parts: list[tuple[str, Any]] = [
        ("messageToPublish", (None, json.dumps(body), "application/json"))
    ]
    parts += list(files.items())
    return await http.post(
        sim.registry_url + "/ebox/messages",
        files=parts,
        headers={"Authorization": f"Bearer {token}"},
    )


@pytest.mark.parametrize(
    ("body", "files", "code"),
    [
        (message(subject={"nl": "Onderwerp", "fr": "Objet"}), None, "NOT_IMPLEMENTED"),
        (message(subject={"nl": "x" * 401}), None, "INVALID_INPUT"),
        (message(subject={"nl": "Onderwerp"}, isReplyAuthorized=None), None, "INVALID_INPUT"),
        (message(isBodyMainContent=True, bodyContent={"nl": "b"}), None, "INVALID_INPUT"),
        (message(attachments=[]), {}, "INVALID_INPUT"),
        (message(), {"upfile1": ("a.html", b"<html/>", "text/html")}, "INVALID_INPUT"),
        (message(), {"upfile1": ("a.pdf", b"not a pdf", "application/pdf")}, "INVALID_INPUT"),
        (
            message(recipient={"eboxType": "enterprise", "enterpriseNumber": "0123456789"}),
            None,
            "INVALID_INPUT",
        ),
        (
            message(sender={"eboxType": "enterprise", "enterpriseNumber": "0852093431"}),
            None,
            "INVALID_SENDER",
        ),
    ],
    ids=[
        "two-languages",
        "long-subject",
        "null",
        "two-mains",
        "no-main",
        "html",
        "fake-pdf",
        "bad-kbo",
        "other-sender",
    ],
)
async def test_publication_rules(
    http: httpx.AsyncClient,
    ebox_sim: SimulatorServer,
    tokens: TokenSource,
    pdf: bytes,
    body: dict[str, Any],
    files: dict[str, tuple[str, bytes, str]] | None,
    code: str,
) -> None:
    """Each broken rule gets the registry's error code, and nothing is published."""
    token = await tokens.token(http, PUBLISH_SCOPE)
    upload = {"upfile1": ("brief.pdf", pdf, "application/pdf")} if files is None else files

    answer = await publish(http, ebox_sim, token, body, upload)

    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == code
    assert set(answer.json()) == {"id", "code", "message"}
    assert ebox_sim.state.publications == {}


async def test_bearer_token_is_checked(
    http: httpx.AsyncClient, ebox_sim: SimulatorServer, tokens: TokenSource, pdf: bytes
) -> None:
    """No token: 401; a token for the wrong scope: 403."""
    upload = {"upfile1": ("brief.pdf", pdf, "application/pdf")}
    assert (await publish(http, ebox_sim, "made-up", message(), upload)).status_code == 401

    wrong_scope = await tokens.token(http, PREFERENCES_SCOPE)
    assert (await publish(http, ebox_sim, wrong_scope, message(), upload)).status_code == 403


async def test_token_endpoint_checks_the_assertion(
    http: httpx.AsyncClient, ebox_sim: SimulatorServer, ebox_keys: tuple[bytes, bytes]
) -> None:
    """A foreign key, a wrong audience or a replayed assertion get no token."""

    def form(assertion: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": assertion,
            "scope": PUBLISH_SCOPE,
        }

    good = TokenSource(
        token_url=ebox_sim.token_url, client_id="comms-test", private_key_pem=ebox_keys[0]
    )
    foreign = TokenSource(
        token_url=ebox_sim.token_url,
        client_id="comms-test",
        private_key_pem=generate_key_pair()[0],
    )
    elsewhere = TokenSource(
        token_url="https://elsewhere.example/token",
        client_id="comms-test",
        private_key_pem=ebox_keys[0],
    )
    assertion = good.assertion()

    first = await http.post(ebox_sim.token_url, data=form(assertion))
    replayed = await http.post(ebox_sim.token_url, data=form(assertion))
    foreign_key = await http.post(ebox_sim.token_url, data=form(foreign.assertion()))
    wrong_audience = await http.post(ebox_sim.token_url, data=form(elsewhere.assertion()))

    assert first.status_code == 200
    assert first.json()["token_type"] == "Bearer"
    for refused in (replayed, foreign_key, wrong_audience):
        assert refused.status_code == 401
        assert refused.json() == {"error": "invalid_client"}


async def test_expired_assertion_is_refused(
    http: httpx.AsyncClient, ebox_sim: SimulatorServer, ebox_keys: tuple[bytes, bytes]
) -> None:
    """An assertion signed an hour ago is no proof now."""
    an_hour_ago = TokenSource(
        token_url=ebox_sim.token_url,
        client_id="comms-test",
        private_key_pem=ebox_keys[0],
        clock=lambda: time.time() - 3600,
    )
    answer = await http.post(
        ebox_sim.token_url,
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": CLIENT_ASSERTION_TYPE,
            "client_assertion": an_hour_ago.assertion(),
            "scope": PUBLISH_SCOPE,
        },
    )
    assert answer.status_code == 401
    claims = jwt.decode(an_hour_ago.assertion(), options={"verify_signature": False})
    assert claims["iss"] == claims["sub"] == "comms-test"
    assert claims["aud"] == ebox_sim.token_url


@pytest.mark.parametrize(
    "query",
    [
        [{"messageId": "m"}],
        [{"messageId": "m", "eboxId": {"eboxType": "CITIZEN", "eboxIdValue": SSIN_19XX}}],
        [{"messageId": 7, "eboxId": {"eboxType": "citizen", "eboxIdValue": SSIN_19XX}}],
        [{"messageId": "m", "eboxIdValue": SSIN_19XX}],  # flat, as in no version of the spec
        ["m"],
    ],
)
async def test_status_search_takes_the_specified_request_only(
    http: httpx.AsyncClient, ebox_sim: SimulatorServer, tokens: TokenSource, query: Any
) -> None:
    """rest-2.1 MessagesStatusRequest: an array of {messageId, eboxId {eboxType, eboxIdValue}}."""
    token = await tokens.token(http, PUBLISH_SCOPE)
    answer = await http.post(
        ebox_sim.registry_url + "/searchMessageStatus",
        json=query,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "INVALID_INPUT"
