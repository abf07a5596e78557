"""The eBox simulator's FastAPI app: publication, status and preference endpoints on loopback.

Answers follow Smals' published shapes (domain/ebox.md, "Official shapes"): rest-2.1
`PublicationStatusMessage`, `MessagesStatusList` (201), `StatusMessage`; federation-1.3
`EboxPreferencesList` (200, a bare array). Publication is served in the configured version only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile

from channels.ebox_simulator import control, oauth
from channels.ebox_simulator.rules import (
    Part,
    RegistryError,
    check_publication,
    check_publication_v2,
    invalid,
    valid_enterprise_number,
)
from channels.ebox_simulator.state import (
    PREFERENCES_SCOPE,
    PUBLISH_SCOPE,
    Publication,
    SimulatorConfig,
    SimulatorState,
)

REGISTRY_PATHS = {
    "v2": "/REST/ebox/enterprise/messageRegistry/v2",
    "v3": "/REST/ebox/enterprise/messageRegistry/v3",
}
OAUTH_PATHS = {"v2": "/REST/oauth/v3", "v3": "/REST/oauth/v5"}  # token endpoints per version
V2_TOKEN_AUDIENCE = "https://oauth.socialsecurity.be"  # noqa: S105 (domain/ebox.md, v2)
FEDERATION_PATH = "/REST/ebox/enterprise/federation/v1"
DELAY_STEP_S = 0.05  # how often a delayed call checks whether the client gave up


async def inject_failure(request: Request) -> None:
    """Applies the next planned failure (`POST /_sim/fail`) before anything else, like a gateway."""
    state: SimulatorState = request.app.state.sim
    plan = state.take_failure()
    if plan is None:
        return
    waited = 0.0
    while waited < plan.delay_s and not await request.is_disconnected():
        await asyncio.sleep(DELAY_STEP_S)
        waited += DELAY_STEP_S
    if plan.status is not None:
        headers = {"Retry-After": str(plan.retry_after_s)} if plan.retry_after_s is not None else {}
        raise RegistryError(
            "SIMULATED_FAILURE", "injected by /_sim/fail", status=plan.status, headers=headers
        )


registry = APIRouter(dependencies=[Depends(inject_failure)])
federation = APIRouter(dependencies=[Depends(inject_failure)])


registry_v2 = APIRouter(dependencies=[Depends(inject_failure)])


@registry.post("/ebox/messages")
async def publish(
    request: Request, client_id: str = Depends(oauth.require_scope(PUBLISH_SCOPE))
) -> JSONResponse:
    """v3: multipart publication with an Idempotency-Key; a replayed key answers 409."""
    state: SimulatorState = request.app.state.sim
    key = request.headers.get("Idempotency-Key", "").strip().strip('"') or None
    if key is not None and (client_id, key) in state.idempotency:
        # domain/ebox.md: same application and key gives 409; the content is not compared.
        raise RegistryError(
            "DUPLICATE_IDEMPOTENCY_KEY", "already published with this key", status=409
        )
    return await _publish(request, client_id, key, check_publication)


@registry_v2.post("/publishMessage")
async def publish_message(
    request: Request, client_id: str = Depends(oauth.require_scope(PUBLISH_SCOPE))
) -> JSONResponse:
    """v2 (rest-2.1 `postMessage`): no idempotency; answers 201, 400 or 401 only."""
    return await _publish(request, client_id, None, check_publication_v2)


async def _publish(request: Request, client_id: str, key: str | None, check: Any) -> JSONResponse:
    config: SimulatorConfig = request.app.state.config
    state: SimulatorState = request.app.state.sim
    message, parts = await _read_multipart(request)
    recipient = check(message, parts, sender=config.sender_enterprise_number)
    now = datetime.now(UTC).replace(microsecond=0)
    publication = Publication(
        message_id=str(uuid.uuid4()),
        client_id=client_id,
        idempotency_key=key,
        recipient=recipient,
        message=message,
        parts=parts,
        published_at=now.isoformat(),
        # rest-2.1 PublicationStatusMessage.expirationDate: a date-time (yyyy-MM-dd'T'HH:mm:ssXXX)
        expiration_date=_date_time(now + timedelta(days=config.validity_days)),
        code="NO_DIGITAL_USER" if recipient in state.no_digital_users else None,
    )
    with state.lock:
        if key is not None and (client_id, key) in state.idempotency:  # lost a race: same answer
            raise RegistryError(
                "DUPLICATE_IDEMPOTENCY_KEY", "already published with this key", status=409
            )
        if key is not None:
            state.idempotency[(client_id, key)] = publication.message_id
        state.publications[publication.message_id] = publication
    body = {"messageId": publication.message_id, "expirationDate": publication.expiration_date}
    if publication.code:
        body["code"] = publication.code
    return JSONResponse(body, status_code=201)


@registry.post("/searchMessageStatus")
async def search_message_status(
    request: Request, client_id: str = Depends(oauth.require_scope(PUBLISH_SCOPE))
) -> JSONResponse:
    state: SimulatorState = request.app.state.sim
    queries = await _json_body(request)
    if not isinstance(queries, list):
        raise invalid("a list of {messageId, eboxId} is expected")
    answers = []
    for query in queries:
        # rest-2.1 MessageIdEboxId: messageId and an EboxId (eboxType citizen|enterprise).
        ebox_id = query.get("eboxId") if isinstance(query, dict) else None
        if (
            not isinstance(query, dict)
            or not isinstance(query.get("messageId"), str)
            or not isinstance(ebox_id, dict)
            or ebox_id.get("eboxType") not in ("citizen", "enterprise")
            or not isinstance(ebox_id.get("eboxIdValue"), str)
        ):
            raise invalid("each query needs messageId and eboxId {eboxType, eboxIdValue}")
        found = state.publications.get(query["messageId"])
        if found is None or found.client_id != client_id:
            continue  # unknown to this sender: absent from the answer
        if (found.recipient_type, found.recipient) != (ebox_id["eboxType"], ebox_id["eboxIdValue"]):
            continue
        # rest-2.1 MessageStatus (lines 1366-1390): readStatus a boolean, eboxId nested.
        answers.append(
            {
                "messageId": found.message_id,
                "eboxId": {"eboxType": found.recipient_type, "eboxIdValue": found.recipient},
                "expirationDate": found.expiration_date,
                "readStatus": found.read,
                "visible": datetime.fromisoformat(found.expiration_date) >= datetime.now(UTC),
            }
        )
    return JSONResponse(answers, status_code=201)  # rest-2.1 lines 481-514: 201 Created


registry_v2.add_api_route("/searchMessageStatus", search_message_status, methods=["POST"])


@federation.post("/eboxPreferences/search")
async def search_preferences(
    request: Request, _client: str = Depends(oauth.require_scope(PREFERENCES_SCOPE))
) -> JSONResponse:
    state: SimulatorState = request.app.state.sim
    query = await _json_body(request)
    if (
        not isinstance(query, dict)
        or query.get("eboxType") != "ENTERPRISE"
        or query.get("eboxIdType") != "EnterpriseNumber"
        or not isinstance(query.get("eboxIdValueList"), list)
    ):
        raise RegistryError(
            "INVALID_INPUT", "ENTERPRISE / EnterpriseNumber / eboxIdValueList expected"
        )
    numbers = [str(n) for n in query["eboxIdValueList"]]
    if not all(valid_enterprise_number(n) for n in numbers):
        raise invalid("an enterprise number is not valid")
    # federation-1.3 EboxPreferencesList (lines 307-348): a bare array; unknown eBoxes absent.
    found = [
        {"eboxId": {"eboxType": "ENTERPRISE", "eboxIdValue": n}, **state.preferences[n]}
        for n in numbers
        if n in state.preferences
    ]
    return JSONResponse(found)


def create_app(
    *,
    client_id: str,
    public_key_pem: bytes,
    sender_enterprise_number: str | None = None,
    token_lifetime_s: float = 300.0,
    token_audience: str | None = None,
    validity_days: int = 365,
    no_digital_users: Iterable[str] = (),
    preferences: Mapping[str, Mapping[str, Any]] | None = None,
    api_version: Literal["v2", "v3"] = "v3",
) -> FastAPI:
    """A fresh simulator; `app.state.sim` holds what it received, for tests in the same process.

    `api_version` picks the publication endpoint, the token path and the token audience.
    """
    title = f"eBox Message Registry {api_version} simulator"
    app = FastAPI(title=title, docs_url=None, redoc_url=None)
    if token_audience is None and api_version == "v2":
        token_audience = V2_TOKEN_AUDIENCE
    app.state.config = SimulatorConfig(
        client_id=client_id,
        public_key_pem=public_key_pem,
        sender_enterprise_number=sender_enterprise_number,
        token_lifetime_s=token_lifetime_s,
        token_audience=token_audience,
        validity_days=validity_days,
        api_version=api_version,
    )
    app.state.sim = SimulatorState(
        no_digital_users=set(no_digital_users),
        preferences={k: dict(v) for k, v in (preferences or {}).items()},
    )
    app.include_router(oauth.router, prefix=OAUTH_PATHS[api_version])
    app.include_router(
        registry if api_version == "v3" else registry_v2, prefix=REGISTRY_PATHS[api_version]
    )
    app.include_router(federation, prefix=FEDERATION_PATH)
    app.include_router(control.router, prefix="/_sim")
    app.add_exception_handler(RegistryError, _error_answer)  # type: ignore[arg-type]
    return app


async def _error_answer(request: Request, exc: RegistryError) -> JSONResponse:
    """The registry's error shape: `{"id", "code", "message"}`."""
    body = {"id": str(uuid.uuid4()), "code": exc.code, "message": exc.message}
    return JSONResponse(body, status_code=exc.status, headers=exc.headers)


def _date_time(moment: datetime) -> str:
    """yyyy-MM-dd'T'HH:mm:ssXXX, as rest-2.1 writes its date-times."""
    return moment.isoformat().replace("+00:00", "Z")


async def _json_body(request: Request) -> Any:
    try:
        return json.loads(await request.body())
    except ValueError:
        raise invalid("body is not JSON") from None


async def _read_multipart(request: Request) -> tuple[Any, dict[str, Part]]:
    """`messageToPublish` (a field, or a part with a file name) and the uploaded file parts."""
    form = await request.form()
    raw: str | bytes | None = None
    parts: dict[str, Part] = {}
    for name, value in form.multi_items():
        if name == "messageToPublish":
            raw = await value.read() if isinstance(value, UploadFile) else value
        elif isinstance(value, UploadFile):
            if name in parts:
                raise invalid(f"part {name} appears twice")
            content_type = (value.content_type or "").split(";")[0].strip()
            parts[name] = Part(value.filename or "", content_type, await value.read())
        else:
            raise invalid(f"unexpected field {name}")
    if raw is None:
        raise invalid("messageToPublish is missing")
    try:
        return json.loads(raw), parts
    except ValueError:
        raise invalid("messageToPublish is not JSON") from None
