"""Publish a letter into the recipient's eBox (Message Registry v2 or v3) and read back if it was read."""

from __future__ import annotations

import json
import logging
import urllib.parse
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

import httpx

from channels.base import (
    BaseChannel,
    Outgoing,
    PermanentError,
    Receipt,
    StatusQuery,
    StatusUpdate,
    TransientError,
    tls_context,
)
from channels.ebox_answers import (
    PREFERENCES,
    PUBLICATION,
    STATUSES,
    UnexpectedAnswer,
    expect_status,
    parse,
    raise_for_refusal,
    wire_text,
)
from channels.ebox_auth import TokenSource
from channels.redact import scrub

log = logging.getLogger(__name__)

PUBLISH_SCOPE = "scope:document:management:consult:ws-eboxrestentreprise:publicationsender"
PREFERENCES_SCOPE = "scope:documentmanagement:ebox:enterprise:federation-rest:preference"
# uuid5 namespace of Idempotency-Key: fixed forever, or a retry after an upgrade publishes twice.
IDEMPOTENCY_NAMESPACE = uuid.UUID("3f0c6a52-8a55-5a43-9a4e-6c6f6d6d7331")
LANGUAGES = frozenset({"nl", "fr", "de"})  # eBox takes exactly one of these per message
# Message Registry v3 limits (domain/ebox.md).
MAX_SUBJECT = 400
MAX_FILENAME = 255
MAX_LABEL = 100
ID_LENGTHS = {"citizen": 11, "enterprise": 10}  # SSIN, enterprise number
STATUS_BATCH = 100  # the API's own limit is undocumented; keep requests modest
NO_DIGITAL_USER = "NO_DIGITAL_USER"  # published, but the recipient never opened an eBox
PUBLISHED_NO_ID: Final = "published_no_id"  # the outcome when the message id is not known
REMEMBERED_ANSWERS = 10_000  # first answers kept in memory for a 409 in the same process

ApiVersion = Literal["v2", "v3"]


@dataclass(frozen=True)
class WireFormat:
    """What differs between the two Message Registry versions a fund can be onboarded on."""

    version: ApiVersion
    publish_path: str  # below the registry's base URL
    token_audience: str | None  # the JWT `aud` the token service wants; None: the token URL
    idempotency: bool  # sends Idempotency-Key (a replay answers 409)
    flag_prefix: str  # the booleans' names: `isMainContent` (v3) or `mainContent` (v2)
    recipient_id: Mapping[str, str]  # the field of the recipient's id, by eBox type
    sender: Callable[[str], dict[str, Any]]  # where the sender's enterprise number goes
    attention: Callable[[str], dict[str, str]]  # `forTheAttentionOf` from a label

    def flag(self, name: str) -> str:
        return self.flag_prefix + name[0].upper() + name[1:] if self.flag_prefix else name


WIRE_FORMATS: Mapping[ApiVersion, WireFormat] = {
    # rest-2.1 (the public Swagger): POST /publishMessage answers 201/400/401 only; token
    # /REST/oauth/v3/token with audience https://oauth.socialsecurity.be (domain/ebox.md).
    "v2": WireFormat(
        "v2",
        "/publishMessage",
        "https://oauth.socialsecurity.be",
        idempotency=False,
        flag_prefix="",
        recipient_id={"citizen": "eboxIdValue", "enterprise": "eboxIdValue"},  # an `EboxId`
        sender=lambda number: {"senderOrganizationId": number},
        # `ForTheAttentionOf` {id, type, name}: the person's id is not ours to send.
        attention=lambda label: {"type": "person", "name": label},
    ),
    # The v3 prose page and Postman collection: POST /ebox/messages, Idempotency-Key, token v5.
    "v3": WireFormat(
        "v3",
        "/ebox/messages",
        None,
        idempotency=True,
        flag_prefix="is",
        recipient_id={"citizen": "ssin", "enterprise": "enterpriseNumber"},
        sender=lambda number: {"sender": {"eboxType": "enterprise", "enterpriseNumber": number}},
        attention=lambda label: {"label": label},
    ),
}


class EboxChannel(BaseChannel):
    """The eBox as a document sender: one PDF as main content, in one language, to one eBox."""

    name = "ebox"

    def __init__(
        self,
        *,
        base_url: str,
        token_url: str,
        client_id: str,
        private_key_pem: bytes,
        sender_enterprise_number: str,
        message_type_id: str,
        sender_application_id: str,
        federation_url: str | None = None,
        timeout_s: float = 30.0,
        key_id: str | None = None,
        private_key_password: bytes | None = None,
        publish_scope: str = PUBLISH_SCOPE,
        preferences_scope: str = PREFERENCES_SCOPE,
        api_version: ApiVersion = "v3",
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.wire = WIRE_FORMATS[api_version]
        self._base = base_url.rstrip("/")
        self._federation = federation_url.rstrip("/") if federation_url else None
        self._tokens = TokenSource(
            token_url=token_url,
            client_id=client_id,
            private_key_pem=private_key_pem,
            private_key_password=private_key_password,
            key_id=key_id,
            audience=self.wire.token_audience,
        )
        self._publish_scope = publish_scope
        self._preferences_scope = preferences_scope
        self._sender = sender_enterprise_number
        self._message_type_id = message_type_id
        self._application_id = sender_application_id
        self._timeout = httpx.Timeout(timeout_s)
        self._transport = transport  # tests: httpx.MockTransport
        self._http: httpx.AsyncClient | None = None
        self._answers: OrderedDict[str, Receipt] = OrderedDict()

    async def open(self) -> None:
        if self._http is None:
            self._http = httpx.AsyncClient(
                timeout=self._timeout, transport=self._transport, verify=tls_context()
            )

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    @staticmethod
    def idempotency_key(communication_id: str) -> str:
        """Same communication, same key: a retry is answered 409 instead of publishing twice."""
        return str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, communication_id))

    def message_to_publish(self, outgoing: Outgoing) -> dict[str, Any]:
        """The `messageToPublish` part in the onboarded version; no null values (v3 rule)."""
        to = outgoing.to
        if to.ebox_type is None or not to.ebox_id:
            raise PermanentError("recipient has no eBox")
        if not (to.ebox_id.isdigit() and len(to.ebox_id) == ID_LENGTHS[to.ebox_type]):
            raise PermanentError(f"malformed {to.ebox_type} eBox id")
        if outgoing.language not in LANGUAGES:
            raise PermanentError("eBox takes nl, fr or de only")
        if len(outgoing.subject) > MAX_SUBJECT:
            raise PermanentError(f"subject longer than {MAX_SUBJECT} characters")
        if to.attention_of and len(to.attention_of) > MAX_LABEL:
            raise PermanentError(f"attention-of label longer than {MAX_LABEL} characters")
        wire = self.wire
        message: dict[str, Any] = {
            **wire.sender(self._sender),
            "recipient": {"eboxType": to.ebox_type, wire.recipient_id[to.ebox_type]: to.ebox_id},
            "subject": {outgoing.language: outgoing.subject},
            "messageTypeId": self._message_type_id,
            "senderApplicationId": self._application_id,
            "attachments": [
                {
                    "httpPartName": "upfile1",
                    wire.flag("mainContent"): True,
                    wire.flag("attachmentSigned"): False,
                }
            ],
            wire.flag("bodyMainContent"): False,
            wire.flag("replyAuthorized"): False,
        }
        if to.attention_of:
            message["forTheAttentionOf"] = wire.attention(to.attention_of)
        return message

    async def send(self, outgoing: Outgoing) -> Receipt:
        message = self.message_to_publish(outgoing)
        document = outgoing.document
        if document.content_type != "application/pdf" or not document.content.startswith(b"%PDF-"):
            raise PermanentError("eBox displays PDF only")
        filename = _part_filename(document.filename)
        key = self.idempotency_key(outgoing.communication_id)
        files = [
            (
                "messageToPublish",
                (None, json.dumps(message, ensure_ascii=False).encode(), "application/json"),
            ),
            ("upfile1", (filename, document.content, document.content_type)),
        ]
        headers: dict[str, str] = {}
        if self.wire.idempotency:
            # The header is an RFC 8941 string, hence the quotes (IETF idempotency-key draft).
            headers["Idempotency-Key"] = f'"{key}"'
        response = await self._call(
            self._base + self.wire.publish_path, self._publish_scope, files=files, headers=headers
        )
        cid = outgoing.communication_id
        if response.status_code == 409 and self.wire.idempotency:
            return self._replayed(cid, key)
        raise_for_refusal(response)
        receipt = self._published(cid, key, response)
        self._remember(key, receipt)
        return receipt

    def _published(self, cid: str, key: str, response: httpx.Response) -> Receipt:
        """The first answer, read without raising: the message is published whatever it says.

        An answer in another shape than PublicationStatusMessage is logged and recorded as
        published with its id unknown, never as delivered without a message id.
        """
        evidence = {"idempotency_key": key, "http_status": str(response.status_code)}
        operation = self.wire.publish_path.strip("/")
        try:
            expect_status(response, 201, operation=operation)
            answer = parse(response, PUBLICATION, operation=operation)
        except UnexpectedAnswer:
            return Receipt(self.name, cid, PUBLISHED_NO_ID, evidence)
        evidence["ebox_message_id"] = answer.messageId
        evidence["expiration_date"] = wire_text(answer.expirationDate)
        if answer.code:
            evidence["ebox_code"] = scrub(answer.code)
        no_digital_user = answer.code == NO_DIGITAL_USER
        log.info(
            "ebox published",
            extra={"communication_id": cid, "ebox_code": evidence.get("ebox_code")},
        )
        return Receipt(self.name, cid, "delivered", evidence, also_by_post=no_digital_user)

    def _replayed(self, cid: str, key: str) -> Receipt:
        """409: published by an earlier attempt; the API does not repeat that attempt's answer.

        This process may still hold it (the ledger write failed after the 201); otherwise the
        message id and NO_DIGITAL_USER are lost, and the state says so (domain/ebox.md).
        """
        first = self._answers.get(key)
        if first is not None:
            log.info("ebox publication replayed", extra={"communication_id": cid})
            return replace(first, evidence={**first.evidence, "replay": "true"})
        log.warning(
            "ebox publication replayed, first answer unknown", extra={"communication_id": cid}
        )
        evidence = {"idempotency_key": key, "replay": "true", "http_status": "409"}
        return Receipt(self.name, cid, PUBLISHED_NO_ID, evidence)

    def _remember(self, key: str, receipt: Receipt) -> None:
        self._answers[key] = receipt
        while len(self._answers) > REMEMBERED_ANSWERS:
            self._answers.popitem(last=False)

    async def read_statuses(self, message_ids: Sequence[StatusQuery]) -> list[StatusUpdate]:
        """The messages to ask about in; an update for each one read.

        rest-2.1 `searchMessageStatus` (lines 481-514): 201 and a bare array of MessageStatus.
        """
        queries = list(message_ids)
        by_message = {q.message_id: q for q in queries}
        updates: list[StatusUpdate] = []
        for start in range(0, len(queries), STATUS_BATCH):
            batch = queries[start : start + STATUS_BATCH]
            payload = [
                {
                    "messageId": q.message_id,
                    "eboxId": {"eboxType": _ebox_type(q.ebox_id), "eboxIdValue": q.ebox_id},
                }
                for q in batch
            ]
            response = await self._call(
                f"{self._base}/searchMessageStatus", self._publish_scope, json=payload
            )
            expect_status(response, 201, operation="searchMessageStatus")
            for status in parse(response, STATUSES, operation="searchMessageStatus"):
                query = by_message.get(status.messageId)
                if query is None or status.eboxId.eboxIdValue != query.ebox_id:
                    # Not what we asked: another eBox's status is no proof this one was read.
                    log.warning("ebox status for a message or eBox not asked about ignored")
                    continue
                if not status.readStatus:
                    continue
                evidence = {"ebox_message_id": query.message_id, "read_status": "true"}
                if status.expirationDate is not None:
                    evidence["expiration_date"] = wire_text(status.expirationDate)
                updates.append(StatusUpdate(self.name, query.communication_id, "read", evidence))
        return updates

    async def preferences(self, enterprise_numbers: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Per known enterprise eBox: `exclusivelyEbox`, `lastConnectionDate`; others absent.

        federation-1.3 `eboxPreferences/search`: a bare array, each with a nested eboxId.
        """
        if self._federation is None:
            raise ValueError("no federation_url configured")
        payload = {
            "eboxType": "ENTERPRISE",
            "eboxIdType": "EnterpriseNumber",
            "eboxIdValueList": list(enterprise_numbers),
        }
        url = f"{self._federation}/eboxPreferences/search"
        response = await self._call(url, self._preferences_scope, json=payload)
        expect_status(response, 200, operation="eboxPreferences/search")
        found: dict[str, dict[str, Any]] = {}
        for item in parse(response, PREFERENCES, operation="eboxPreferences/search"):
            known: dict[str, Any] = {"exclusivelyEbox": item.exclusivelyEbox}
            if item.lastConnectionDate is not None:
                known["lastConnectionDate"] = wire_text(item.lastConnectionDate)
            found[item.eboxId.eboxIdValue] = known
        return found

    async def _call(
        self, url: str, scope: str, *, headers: Mapping[str, str] | None = None, **request: Any
    ) -> httpx.Response:
        """POST with a bearer token; a 401 gets one fresh token; network failures are transient."""
        await self.open()
        assert self._http is not None
        for attempt in (1, 2):
            token = await self._tokens.token(self._http, scope)
            auth = {**(headers or {}), "Authorization": f"Bearer {token}"}
            try:
                response = await self._http.post(url, headers=auth, **request)
            except httpx.HTTPError as exc:
                raise TransientError(f"eBox unreachable: {type(exc).__name__}") from None
            if response.status_code != 401 or attempt == 2:
                break
            self._tokens.invalidate(scope)  # expired or revoked early: one fresh token, once
        return response


def _ebox_type(ebox_id: str) -> str:
    return "citizen" if len(ebox_id) == ID_LENGTHS["citizen"] else "enterprise"


def _part_filename(filename: str) -> str:
    """ASCII stays as is; anything else is percent-encoded (domain/ebox.md: outside ISO-8859-1)."""
    encoded = filename if filename.isascii() else urllib.parse.quote(filename, safe=" ._-()")
    if len(encoded) > MAX_FILENAME:
        raise PermanentError(f"file name longer than {MAX_FILENAME} characters")
    return encoded
