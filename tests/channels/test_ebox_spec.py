"""Every request the client sends and every answer the simulator gives, held to Smals' field lists.

The models below are written from the specification, not from the client: strict (unknown fields
refused) where the spec lists them all. Sources (domain/ebox.md, "Official shapes"):
- REST = `be-smals-thim/be-ebox-enterprise-integration-support` openapi/ebox-rest-2.1.yaml
  (Message Registry v2, Swagger 2.0), commit 4ca9460e; definitions cited by name, the lines
  domain/ebox.md gives where it gives them.
- FED = the same repository's openapi/ebox-federation-1.3.yaml as it was before commit ea3898b
  deleted it (read at 1085b3c3).
- V3 = no machine-readable v3 exists: the v3 prose page as domain/ebox.md quotes it ("The message")
  and `e-Box-Enterprise-Belgium/examples` postman/"e-Box MessageRegistry publication v3
  examples.postman_collection.json" (commit 36dcb2d5), whose citizen example must pass.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import httpx
import jwt
import pytest
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
)

from channels.base import Outgoing, PermanentError, StatusQuery
from channels.ebox import EboxChannel
from channels.ebox_simulator import SimulatorServer, create_app
from tests.channels.conftest import (
    EBOX_CLIENT_ID,
    KBO_CLIENT,
    KBO_FUND,
    SSIN_19XX,
    SSIN_20XX,
)
from tests.net import HTTP

KBO = r"^[0-1][0-9]{9}$"  # REST MessageToPublish.senderOrganizationId.pattern
SSIN = r"^[0-9]{11}$"


class Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class TranslatedString(Spec):
    """REST definitions/TranslatedString: nl, fr, de."""

    nl: StrictStr | None = None
    fr: StrictStr | None = None
    de: StrictStr | None = None


class EboxId(Spec):
    """REST definitions/EboxId: both required; eboxType enterprise|citizen."""

    eboxType: Literal["enterprise", "citizen"]  # noqa: N815 (the spec's names)
    eboxIdValue: StrictStr  # noqa: N815


class MessageIdEboxId(Spec):
    """REST definitions/MessageIdEboxId; MessagesStatusRequest is an array of these."""

    messageId: StrictStr  # noqa: N815
    eboxId: EboxId  # noqa: N815


class MessageStatus(Spec):
    """REST definitions/MessageStatus (lines 1366-1390): required messageId, eboxId, readStatus."""

    messageId: StrictStr  # noqa: N815
    eboxId: EboxId  # noqa: N815
    readStatus: StrictBool  # noqa: N815
    expirationDate: AwareDatetime | None = None  # noqa: N815 (format date-time)
    visible: StrictBool | None = None


class PublicationStatusMessage(Spec):
    """REST definitions/PublicationStatusMessage: the 201 of postMessage (and of v3)."""

    messageId: StrictStr  # noqa: N815
    expirationDate: AwareDatetime  # noqa: N815 (format date-time, yyyy-MM-dd'T'HH:mm:ssXXX)
    code: StrictStr | None = None
    message: StrictStr | None = None


class StatusMessage(Spec):
    """REST definitions/StatusMessage (lines 1578-1604): required code, id (uuid), message."""

    id: StrictStr = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
    code: StrictStr
    message: StrictStr
    contact: StrictStr | None = None
    environment: StrictStr | None = None


class AttachmentToPublishV2(Spec):
    """REST definitions/AttachmentToPublish: required mainContent, httpPartName."""

    httpPartName: StrictStr  # noqa: N815
    mainContent: StrictBool  # noqa: N815
    attachmentSigned: StrictBool | None = None  # noqa: N815
    attachmentTitle: TranslatedString | None = None  # noqa: N815


class ForTheAttentionOfV2(Spec):
    """REST definitions/ForTheAttentionOf: id, type, name."""

    id: StrictStr | None = None
    type: StrictStr | None = None
    name: StrictStr | None = None


class MessageToPublishV2(Spec):
    """REST definitions/MessageToPublish: required recipient, subject, bodyMainContent,
    replyAuthorized (no paymentData, no registeredMail: not used by comms)."""

    recipient: EboxId
    subject: TranslatedString
    bodyMainContent: StrictBool  # noqa: N815
    replyAuthorized: StrictBool  # noqa: N815
    forTheAttentionOf: ForTheAttentionOfV2 | None = None  # noqa: N815
    messageTypeId: StrictStr | None = None  # noqa: N815
    senderOrganizationId: StrictStr | None = Field(default=None, pattern=KBO)  # noqa: N815
    senderApplicationId: StrictStr | None = None  # noqa: N815
    attachments: list[AttachmentToPublishV2] | None = None
    bodyContent: TranslatedString | None = None  # noqa: N815
    expirationDate: AwareDatetime | None = None  # noqa: N815


class V3Sender(Spec):
    """V3 `sender` (postman: eboxType, enterpriseNumber, optional partition)."""

    eboxType: Literal["enterprise"]  # noqa: N815
    enterpriseNumber: StrictStr = Field(pattern=KBO)  # noqa: N815
    partition: StrictStr | None = None


class V3Citizen(Spec):
    eboxType: Literal["citizen"]  # noqa: N815
    ssin: StrictStr = Field(pattern=SSIN)


class V3Enterprise(Spec):
    eboxType: Literal["enterprise"]  # noqa: N815
    enterpriseNumber: StrictStr = Field(pattern=KBO)  # noqa: N815


class V3Attachment(Spec):
    """V3 attachments[]: httpPartName, isMainContent, isAttachmentSigned."""

    httpPartName: StrictStr  # noqa: N815
    isMainContent: StrictBool  # noqa: N815
    isAttachmentSigned: StrictBool | None = None  # noqa: N815


class V3BusinessData(Spec):
    key: StrictStr
    values: list[TranslatedString]


class V3ForTheAttentionOf(Spec):
    """domain/ebox.md's v3 example: ssin and label (label ≤ 100)."""

    ssin: StrictStr | None = Field(default=None, pattern=SSIN)
    label: StrictStr | None = Field(default=None, max_length=100)


class MessageToPublishV3(Spec):
    """V3 `messageToPublish`: the fields of domain/ebox.md "The message" and the postman examples;
    the five the postman examples always send are required."""

    sender: V3Sender
    recipient: V3Citizen | V3Enterprise
    subject: TranslatedString
    messageTypeId: StrictStr  # noqa: N815
    senderApplicationId: StrictStr  # noqa: N815
    attachments: list[V3Attachment] | None = None
    isBodyMainContent: StrictBool | None = None  # noqa: N815
    bodyContent: TranslatedString | None = None  # noqa: N815
    businessDataList: list[V3BusinessData] | None = None  # noqa: N815
    isReplyAuthorized: StrictBool | None = None  # noqa: N815
    forTheAttentionOf: V3ForTheAttentionOf | None = None  # noqa: N815


class EboxIdSameTypeList(Spec):
    """FED definitions/EboxIdSameTypeList: the preferences search request."""

    eboxType: Literal["ENTERPRISE"]  # noqa: N815
    eboxIdType: Literal["EnterpriseNumber"]  # noqa: N815
    eboxIdValueList: list[StrictStr]  # noqa: N815


class FedEboxId(Spec):
    """FED definitions/EboxId: eboxType (example ENTERPRISE), eboxIdValue."""

    eboxType: StrictStr  # noqa: N815
    eboxIdValue: StrictStr  # noqa: N815


class EboxPreferences(Spec):
    """FED definitions/EboxPreferences (lines 307-348): required eboxId, exclusivelyEbox."""

    eboxId: FedEboxId  # noqa: N815
    exclusivelyEbox: StrictBool  # noqa: N815
    lastConnectionDate: AwareDatetime | None = None  # noqa: N815 (format date-time)
    totalNumberOfMessages: StrictInt | None = None  # noqa: N815
    totalNumberOfUnreadMessages: StrictInt | None = None  # noqa: N815


STATUS_REQUEST = TypeAdapter(list[MessageIdEboxId])  # REST definitions/MessagesStatusRequest
STATUS_LIST = TypeAdapter(list[MessageStatus])  # REST definitions/MessagesStatusList
PREFERENCES_LIST = TypeAdapter(list[EboxPreferences])  # FED definitions/EboxPreferencesList

# V3 postman collection, item "publication to citizen", its messageToPublish verbatim. (Its
# numbers are placeholders that fail mod 97: the spec's shape is checked, not their digits.)
POSTMAN_CITIZEN = (
    '{"sender":{"eboxType":"enterprise","enterpriseNumber":"0123456789"},'
    '"recipient":{"eboxType":"citizen","ssin":"01010122233"},'
    '"subject":{"fr":"test publication 1 PDF for citizen"},'
    '"messageTypeId":"yourMessageTypeId","senderApplicationId":"yourApplicationId",'
    '"attachments":[{"httpPartName":"upfile1","isMainContent":true,"isAttachmentSigned":false}]}'
)


@dataclass
class Exchange:
    request: httpx.Request
    response: httpx.Response


class Recorder(httpx.AsyncBaseTransport):
    """Passes every call to the real loopback server and keeps both sides."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()  # multipart bodies stream: keep them for the check
        response = await self.inner.handle_async_request(request)
        content = await response.aread()
        kept = httpx.Response(response.status_code, headers=response.headers, content=content)
        self.exchanges.append(Exchange(request, kept))
        return kept

    async def aclose(self) -> None:
        await self.inner.aclose()


def multipart(request: httpx.Request) -> dict[str, tuple[str | None, str, bytes]]:
    """name → (filename, content type, bytes) of a multipart/form-data request."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + request.content)
    parts = {}
    for part in parsed.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        assert isinstance(name, str) and isinstance(payload, bytes)
        parts[name] = (part.get_filename(), part.get_content_type(), payload)
    return parts


def mark_read(sim: SimulatorServer, message_id: str) -> None:
    HTTP.post(f"{sim.base_url}/_sim/read/{message_id}").raise_for_status()


def check_exchange(version: str, exchange: Exchange) -> str:
    """Validates one request and its answer; returns what it was, for the coverage check."""
    request, response = exchange.request, exchange.response
    path = request.url.path
    if path.endswith("/token"):
        claims = jwt.decode(
            dict(httpx.QueryParams(request.content.decode()))["client_assertion"],
            options={"verify_signature": False},
        )
        audience = "https://oauth.socialsecurity.be" if version == "v2" else str(request.url)
        assert claims["aud"] == audience
        assert path == {"v2": "/REST/oauth/v3/token", "v3": "/REST/oauth/v5/token"}[version]
        return "token"
    if response.status_code >= 400:
        StatusMessage.model_validate_json(response.content)
        kind = "error"
    else:
        kind = "answer"
    if path.endswith(("/publishMessage", "/ebox/messages")):
        assert path.endswith("/publishMessage" if version == "v2" else "/ebox/messages")
        parts = multipart(request)
        filename, content_type, raw = parts.pop("messageToPublish")
        assert filename is None and content_type == "application/json"
        model = MessageToPublishV2 if version == "v2" else MessageToPublishV3
        model.model_validate_json(raw)
        assert all(ct == "application/pdf" and fn for fn, ct, _ in parts.values())
        assert ("idempotency-key" in request.headers) is (version == "v3")
        if kind == "answer":
            assert response.status_code == 201
            PublicationStatusMessage.model_validate_json(response.content)
        return f"publish {kind} {response.status_code}"
    if path.endswith("/searchMessageStatus"):
        STATUS_REQUEST.validate_json(request.content)
        if kind == "answer":
            assert response.status_code == 201
            STATUS_LIST.validate_json(response.content)
        return f"status {kind}"
    if path.endswith("/eboxPreferences/search"):
        EboxIdSameTypeList.model_validate_json(request.content)
        if kind == "answer":
            assert response.status_code == 200
            PREFERENCES_LIST.validate_json(response.content)
        return f"preferences {kind}"
    raise AssertionError(f"unexpected call {path}")


@pytest.fixture(params=["v2", "v3"])
def versioned_sim(
    request: pytest.FixtureRequest, ebox_keys: tuple[bytes, bytes]
) -> Iterator[SimulatorServer]:
    app = create_app(
        client_id=EBOX_CLIENT_ID,
        public_key_pem=ebox_keys[1],
        sender_enterprise_number=KBO_FUND,
        no_digital_users={SSIN_20XX},
        preferences={
            KBO_CLIENT: {"exclusivelyEbox": True, "lastConnectionDate": "2027-01-15T08:30:00Z"}
        },
        api_version=request.param,
    )
    with SimulatorServer(app) as server:
        yield server


@pytest.fixture
async def recorded(
    versioned_sim: SimulatorServer, ebox_keys: tuple[bytes, bytes]
) -> AsyncIterator[tuple[EboxChannel, Recorder]]:
    recorder = Recorder()
    channel = EboxChannel(
        base_url=versioned_sim.registry_url,
        token_url=versioned_sim.token_url,
        federation_url=versioned_sim.federation_url,
        client_id=EBOX_CLIENT_ID,
        private_key_pem=ebox_keys[0],
        sender_enterprise_number=KBO_FUND,
        message_type_id="dev-message-type",
        sender_application_id="dev-sender-application",
        api_version=versioned_sim.config.api_version,
        transport=recorder,
    )
    async with channel:
        yield channel, recorder


async def test_every_exchange_has_the_specified_shape(
    recorded: tuple[EboxChannel, Recorder],
    versioned_sim: SimulatorServer,
    make_outgoing: Callable[..., Outgoing],
) -> None:
    """Both versions publish (citizen, company, NO_DIGITAL_USER, refused), poll and look up."""
    channel, recorder = recorded
    version = versioned_sim.config.api_version
    citizen = await channel.send(make_outgoing())
    company = make_outgoing(
        communication_id="c-company",
        to={"ebox_type": "enterprise", "ebox_id": KBO_CLIENT, "attention_of": "Anna Peeters"},
    )
    await channel.send(company)
    no_digital = await channel.send(
        make_outgoing(communication_id="c-ndu", to={"ebox_id": SSIN_20XX})
    )
    with pytest.raises(PermanentError):
        await channel.send(make_outgoing(communication_id="c-bad", to={"ebox_id": "85073003329"}))
    if version == "v3":
        assert (await channel.send(make_outgoing())).evidence["replay"] == "true"
    message_id = citizen.evidence["ebox_message_id"]
    mark_read(versioned_sim, message_id)
    [read] = await channel.read_statuses([StatusQuery("c0ffee0123456789", message_id, SSIN_19XX)])
    found = await channel.preferences([KBO_CLIENT, KBO_FUND])

    assert citizen.outcome == "delivered" and no_digital.also_by_post
    assert read.outcome == "read"
    assert list(found) == [KBO_CLIENT]
    assert len(versioned_sim.messages()) == 3
    seen = {check_exchange(version, exchange) for exchange in recorder.exchanges}
    expected = {"token", "publish answer 201", "publish error 400", "status answer"}
    expected |= {"preferences answer"}
    if version == "v3":
        expected.add("publish error 409")
    assert seen == expected


def test_the_postman_citizen_example_passes() -> None:
    """The published v3 example of a publication to a citizen has the shape we check against."""
    message = MessageToPublishV3.model_validate_json(POSTMAN_CITIZEN)
    assert isinstance(message.recipient, V3Citizen)


@pytest.mark.parametrize(
    ("adapter", "answer"),
    [
        # What comms' own simulator answered before issue 14: all refused by the spec's models.
        (STATUS_LIST, [{"messageId": "m", "readStatus": "READ", "expirationDate": "2027-01-04"}]),
        (PREFERENCES_LIST, {"items": [{"eboxIdValue": KBO_CLIENT, "exclusivelyEbox": True}]}),
        (TypeAdapter(PublicationStatusMessage), {"messageId": "m", "expirationDate": "2027-01-04"}),
    ],
)
def test_the_old_shapes_fail_the_spec(adapter: TypeAdapter[Any], answer: Any) -> None:
    """The validator can fail: the shapes the issue found are refused."""
    with pytest.raises(ValidationError):
        adapter.validate_json(json.dumps(answer))
