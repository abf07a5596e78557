"""EboxChannel fed the answers exactly as Smals' published specification writes them.

The answers below are copied from the field lists of `be-smals-thim/be-ebox-enterprise-integration-
support` (openapi/ebox-rest-2.1.yaml and openapi/ebox-federation-1.3.yaml, lines in
domain/ebox.md "Official shapes"), served through httpx.MockTransport, so the client cannot agree
with a simulator written by the same hand.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from channels.base import Outgoing, StatusQuery, StatusUpdate, TransientError
from channels.ebox import EboxChannel
from tests.channels.conftest import EBOX_CLIENT_ID, KBO_CLIENT, KBO_FUND, SSIN_19XX

TOKEN_URL = "https://services.socialsecurity.be/REST/oauth/v5/token"
BASE = "https://services.socialsecurity.be/REST/ebox/enterprise/messageRegistry/v3"
FEDERATION = "https://services.socialsecurity.be/REST/ebox/enterprise/federation/v1"
OTHER_KBO = "0202239951"


def mock_channel(
    ebox_keys: tuple[bytes, bytes],
    answer: Callable[[httpx.Request], httpx.Response],
    **options: Any,
) -> EboxChannel:
    """A channel whose every call after the token goes to `answer`."""

    def route(request: httpx.Request) -> httpx.Response:
        if str(request.url) == TOKEN_URL:
            return httpx.Response(200, json={"access_token": "t", "expires_in": 600})
        return answer(request)

    return EboxChannel(
        base_url=BASE,
        token_url=TOKEN_URL,
        federation_url=FEDERATION,
        client_id=EBOX_CLIENT_ID,
        private_key_pem=ebox_keys[0],
        sender_enterprise_number=KBO_FUND,
        message_type_id="type",
        sender_application_id="app",
        transport=httpx.MockTransport(route),
        **options,
    )


async def test_the_official_read_status_answer_records_the_reads(
    ebox_keys: tuple[bytes, bytes],
) -> None:
    """searchMessageStatus answers 201 with an array of {messageId, eboxId, readStatus: bool}."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert request.url.path.endswith("/searchMessageStatus")
        asked = json.loads(request.content)
        assert asked == [
            {"messageId": "m-1", "eboxId": {"eboxType": "citizen", "eboxIdValue": SSIN_19XX}},
            {"messageId": "m-2", "eboxId": {"eboxType": "enterprise", "eboxIdValue": KBO_CLIENT}},
            {"messageId": "m-3", "eboxId": {"eboxType": "citizen", "eboxIdValue": SSIN_19XX}},
        ]
        return httpx.Response(
            201,
            json=[
                {
                    "messageId": "m-1",
                    "eboxId": {"eboxType": "citizen", "eboxIdValue": SSIN_19XX},
                    "readStatus": True,
                    "expirationDate": "2028-01-04T09:26:00+01:00",
                    "visible": True,
                },
                {
                    "messageId": "m-2",
                    "eboxId": {"eboxType": "enterprise", "eboxIdValue": KBO_CLIENT},
                    "readStatus": True,
                },
                {
                    "messageId": "m-3",
                    "eboxId": {"eboxType": "citizen", "eboxIdValue": SSIN_19XX},
                    "readStatus": False,
                },
            ],
        )

    async with mock_channel(ebox_keys, answer) as channel:
        updates = await channel.read_statuses(
            [
                StatusQuery("c-1", "m-1", SSIN_19XX),
                StatusQuery("c-2", "m-2", KBO_CLIENT),
                StatusQuery("c-3", "m-3", SSIN_19XX),
            ]
        )

    assert updates == [
        StatusUpdate(
            "ebox",
            "c-1",
            "read",
            {
                "ebox_message_id": "m-1",
                "read_status": "true",
                "expiration_date": "2028-01-04T09:26:00+01:00",
            },
        ),
        StatusUpdate("ebox", "c-2", "read", {"ebox_message_id": "m-2", "read_status": "true"}),
    ]


async def test_the_official_preferences_answer_lists_the_companies(
    ebox_keys: tuple[bytes, bytes],
) -> None:
    """eboxPreferences/search answers a bare array with a nested eboxId; absent: no eBox."""

    def answer(request: httpx.Request) -> httpx.Response:
        assert str(request.url) == f"{FEDERATION}/eboxPreferences/search"
        assert json.loads(request.content) == {
            "eboxType": "ENTERPRISE",
            "eboxIdType": "EnterpriseNumber",
            "eboxIdValueList": [KBO_CLIENT, OTHER_KBO, KBO_FUND],
        }
        return httpx.Response(
            200,
            json=[
                {
                    "eboxId": {"eboxType": "ENTERPRISE", "eboxIdValue": KBO_CLIENT},
                    "exclusivelyEbox": True,
                    "lastConnectionDate": "2019-04-19T20:00:00Z",
                    "totalNumberOfMessages": 999,
                    "totalNumberOfUnreadMessages": 3,
                },
                {
                    "eboxId": {"eboxType": "ENTERPRISE", "eboxIdValue": OTHER_KBO},
                    "exclusivelyEbox": False,
                },
            ],
        )

    async with mock_channel(ebox_keys, answer) as channel:
        found = await channel.preferences([KBO_CLIENT, OTHER_KBO, KBO_FUND])

    assert found == {
        KBO_CLIENT: {"exclusivelyEbox": True, "lastConnectionDate": "2019-04-19T20:00:00Z"},
        OTHER_KBO: {"exclusivelyEbox": False},
    }


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (201, {"items": []}),  # wrapped, as comms once expected
        (201, [{"messageId": "m-1", "readStatus": "READ"}]),  # a string, no eboxId
        (201, [{"messageId": "m-1", "eboxId": {"eboxType": "citizen"}, "readStatus": True}]),
        (200, "not json at all"),
    ],
)
async def test_an_unexpected_read_status_shape_is_refused_loudly(
    ebox_keys: tuple[bytes, bytes],
    caplog: pytest.LogCaptureFixture,
    status: int,
    body: Any,
) -> None:
    """Not read as "nothing read": an error that says the shape is wrong, logged without data."""
    caplog.set_level(logging.DEBUG, logger="channels")

    def answer(request: httpx.Request) -> httpx.Response:
        if isinstance(body, str):
            return httpx.Response(status, content=body.encode())
        return httpx.Response(status, json=body)

    async with mock_channel(ebox_keys, answer) as channel:
        with pytest.raises(TransientError, match="unexpected shape"):
            await channel.read_statuses([StatusQuery("c-1", "m-1", SSIN_19XX)])

    [logged] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert logged.getMessage() == "ebox answer has an unexpected shape"
    assert logged.__dict__["operation"] == "searchMessageStatus"
    assert SSIN_19XX not in str(logged.__dict__)


async def test_a_status_for_another_ebox_is_no_read(ebox_keys: tuple[bytes, bytes]) -> None:
    """A status whose eboxId is not the one asked about proves nothing about our recipient."""

    def answer(request: httpx.Request) -> httpx.Response:
        other = {"eboxType": "citizen", "eboxIdValue": "01010122296"}
        return httpx.Response(201, json=[{"messageId": "m-1", "eboxId": other, "readStatus": True}])

    async with mock_channel(ebox_keys, answer) as channel:
        assert await channel.read_statuses([StatusQuery("c-1", "m-1", SSIN_19XX)]) == []


async def test_an_unexpected_preferences_shape_is_refused_loudly(
    ebox_keys: tuple[bytes, bytes], caplog: pytest.LogCaptureFixture
) -> None:
    """The flat, wrapped shape comms once read: refused, the enterprise number not logged."""
    caplog.set_level(logging.DEBUG, logger="channels")

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json={"items": [{"eboxIdValue": KBO_CLIENT, "exclusivelyEbox": True}]}
        )

    async with mock_channel(ebox_keys, answer) as channel:
        with pytest.raises(TransientError, match="unexpected shape"):
            await channel.preferences([KBO_CLIENT])

    assert all(KBO_CLIENT not in str(r.__dict__) for r in caplog.records)
    assert any(r.__dict__.get("operation") == "eboxPreferences/search" for r in caplog.records)


async def test_the_official_error_answer_is_read(
    ebox_keys: tuple[bytes, bytes], make_outgoing: Callable[..., Outgoing]
) -> None:
    """StatusMessage {id, code, message} (rest-2.1): its id and code become evidence; the message
    is free text that may quote a name or a street, so it is kept out (issue 13)."""
    from channels.base import PermanentError

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            400,
            json={
                "id": "0b6d8f4e-0c41-4c57-9d0c-3f2c1e0d7a11",
                "code": "INVALID_INPUT",
                "message": "no mailbox for Anna Peeters, Kerkstraat 12",
                "environment": "production",
            },
        )

    async with mock_channel(ebox_keys, answer) as channel:
        with pytest.raises(PermanentError) as caught:
            await channel.send(make_outgoing())

    assert caught.value.evidence == {
        "http_status": "400",
        "ebox_error_code": "INVALID_INPUT",
        "ebox_error_id": "0b6d8f4e-0c41-4c57-9d0c-3f2c1e0d7a11",
    }
    assert "Peeters" not in str(caught.value) and "Kerkstraat" not in caught.value.reason


async def test_a_publication_answer_with_a_date_only_is_published_with_its_id_unknown(
    ebox_keys: tuple[bytes, bytes],
    make_outgoing: Callable[..., Outgoing],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """201 whose expirationDate is a date, not a date-time: published, but not read as delivered."""
    caplog.set_level(logging.DEBUG, logger="channels")

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(201, json={"messageId": "m-1", "expirationDate": "2028-01-04"})

    async with mock_channel(ebox_keys, answer) as channel:
        receipt = await channel.send(make_outgoing())

    assert receipt.outcome == "published_no_id"
    assert "ebox_message_id" not in receipt.evidence
    assert any(r.getMessage() == "ebox answer has an unexpected shape" for r in caplog.records)


async def test_the_official_publication_answer_is_delivered(
    ebox_keys: tuple[bytes, bytes], make_outgoing: Callable[..., Outgoing]
) -> None:
    """PublicationStatusMessage: messageId, expirationDate (date-time), code NO_DIGITAL_USER."""

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            201,
            json={
                "messageId": "m-1",
                "expirationDate": "2028-01-04T09:26:00Z",
                "code": "NO_DIGITAL_USER",
                "message": "the recipient never opened an eBox",
            },
        )

    async with mock_channel(ebox_keys, answer) as channel:
        receipt = await channel.send(make_outgoing())

    assert receipt.outcome == "delivered" and receipt.also_by_post is True
    assert receipt.evidence["ebox_message_id"] == "m-1"
    assert receipt.evidence["expiration_date"] == "2028-01-04T09:26:00Z"
    assert receipt.evidence["ebox_code"] == "NO_DIGITAL_USER"


@pytest.mark.parametrize(
    "body", [b'{"token": "t"}', b'{"access_token": 7, "expires_in": 600}', b"<html></html>"]
)
async def test_a_token_answer_in_another_shape_is_refused_loudly(
    ebox_keys: tuple[bytes, bytes],
    make_outgoing: Callable[..., Outgoing],
    caplog: pytest.LogCaptureFixture,
    body: bytes,
) -> None:
    """RFC 6749 §5.1 wants access_token (a string): anything else is a clear transient error."""
    caplog.set_level(logging.DEBUG, logger="channels")
    channel = EboxChannel(
        base_url=BASE,
        token_url=TOKEN_URL,
        client_id=EBOX_CLIENT_ID,
        private_key_pem=ebox_keys[0],
        sender_enterprise_number=KBO_FUND,
        message_type_id="type",
        sender_application_id="app",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=body)),
    )
    async with channel:
        with pytest.raises(TransientError, match="token endpoint answered an unexpected shape"):
            await channel.send(make_outgoing())
    assert any(
        r.getMessage() == "ebox token answer has an unexpected shape" for r in caplog.records
    )
