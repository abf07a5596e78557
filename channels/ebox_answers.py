"""Read the eBox's HTTP answers in their published shapes, or say loudly that the shape is wrong.

The shapes are those of Smals' only machine-readable specification (domain/ebox.md, "Official
shapes"): `be-smals-thim/be-ebox-enterprise-integration-support`, openapi/ebox-rest-2.1.yaml and
openapi/ebox-federation-1.3.yaml. Fields the client does not use are ignored; a field it uses that
is missing or of another type is an error, never read as "nothing".
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar

import httpx
from pydantic import AwareDatetime, BaseModel, ConfigDict, StrictBool, TypeAdapter, ValidationError

from channels.base import PermanentError, TransientError
from channels.ebox_auth import AUTH_RETRY_S
from channels.redact import scrub, validation_fields

log = logging.getLogger("channels.ebox")
DEFAULT_RETRY_S = 60.0  # when a 429/5xx comes without Retry-After
SHAPE_RETRY_S = 900.0  # a changed API is not fixed in a minute: ask again in 15 minutes

T = TypeVar("T")


class _Answer(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class EboxId(_Answer):
    """rest-2.1 `EboxId` (citizen|enterprise); federation-1.3 `EboxId` (ENTERPRISE)."""

    eboxType: str  # noqa: N815 (the API's field names)
    eboxIdValue: str  # noqa: N815


class MessageStatus(_Answer):
    """rest-2.1 `MessageStatus` (lines 1366-1390): readStatus is a boolean."""

    messageId: str  # noqa: N815
    eboxId: EboxId  # noqa: N815
    readStatus: StrictBool  # noqa: N815
    expirationDate: AwareDatetime | None = None  # noqa: N815


class EboxPreferences(_Answer):
    """federation-1.3 `EboxPreferences` (lines 307-348); lastConnectionDate is a date-time."""

    eboxId: EboxId  # noqa: N815
    exclusivelyEbox: StrictBool  # noqa: N815
    lastConnectionDate: AwareDatetime | None = None  # noqa: N815


class PublicationStatus(_Answer):
    """rest-2.1 `PublicationStatusMessage`: the 201 of a publication; expirationDate a date-time."""

    messageId: str  # noqa: N815
    expirationDate: AwareDatetime  # noqa: N815
    code: str | None = None
    message: str | None = None


class StatusMessage(_Answer):
    """rest-2.1 `StatusMessage` (lines 1578-1604): every error answer."""

    id: str
    code: str
    message: str


STATUSES = TypeAdapter(list[MessageStatus])  # rest-2.1 `MessagesStatusList`: a bare array
PREFERENCES = TypeAdapter(list[EboxPreferences])  # federation-1.3 `EboxPreferencesList`
PUBLICATION = TypeAdapter(PublicationStatus)


class UnexpectedAnswer(TransientError):
    """The eBox answered in a shape its specification does not have: an operator must look."""


def parse(response: httpx.Response, adapter: TypeAdapter[T], *, operation: str) -> T:
    """The answer in its documented shape, or UnexpectedAnswer, logged with field paths only."""
    try:
        return adapter.validate_json(response.content)
    except ValidationError as exc:
        fields = validation_fields(exc)
    log.error(
        "ebox answer has an unexpected shape",
        extra={"operation": operation, "http_status": response.status_code, "fields": fields},
    )
    raise UnexpectedAnswer(
        f"eBox {operation} answered an unexpected shape ({fields})", retry_after_s=SHAPE_RETRY_S
    )


def expect_status(response: httpx.Response, expected: int, *, operation: str) -> None:
    """Refusals first (raise_for_refusal); then another 2xx than the specified one is refused."""
    raise_for_refusal(response)
    if response.status_code != expected:
        log.error(
            "ebox answer has an unexpected shape",
            extra={"operation": operation, "http_status": response.status_code, "fields": ""},
        )
        raise UnexpectedAnswer(
            f"eBox {operation} answered an unexpected shape (HTTP {response.status_code}, "
            f"not {expected})",
            retry_after_s=SHAPE_RETRY_S,
        )


def raise_for_refusal(response: httpx.Response) -> None:
    """domain/ebox.md: 5xx and 429 are transient; 401/403 are ours to fix; other 4xx are final."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status < 400:
        raise TransientError(f"eBox answered an unexpected {status}")
    if status == 429 or status >= 500:
        raise TransientError(f"eBox answered {status}", retry_after_s=_retry_after(response))
    error = _error(response)
    code = scrub(error.code if error else f"HTTP_{status}")
    if status in (401, 403):
        # A refused token or a missing scope is a configuration problem, not this letter's:
        # falling back to paper for every letter would hide it.
        log.error("ebox refused our credentials", extra={"http_status": status, "ebox_code": code})
        raise TransientError(
            f"eBox refused credentials ({status} {code})", retry_after_s=AUTH_RETRY_S
        )
    evidence = {"http_status": str(status), "ebox_error_code": code}
    if error is not None:
        # The error's message is free text that may quote a name or a street: never kept.
        evidence["ebox_error_id"] = scrub(error.id)
    log.warning("ebox refused message", extra={"http_status": status, "ebox_code": code})
    raise PermanentError(f"eBox refused: {code}", evidence=evidence)


def _error(response: httpx.Response) -> StatusMessage | None:
    """The StatusMessage, or None when a gateway answered in its own words (an HTML page)."""
    try:
        return StatusMessage.model_validate_json(response.content)
    except ValidationError:
        return None


def _retry_after(response: httpx.Response) -> float:
    """RFC 9110 §10.2.3: delay-seconds or an HTTP-date."""
    value = response.headers.get("Retry-After", "").strip()
    if value.isdigit():
        return float(value)
    if value:
        try:
            return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
        except (TypeError, ValueError):
            pass
    return DEFAULT_RETRY_S


def wire_text(value: Any) -> str:
    """A value as the answer wrote it (date-times keep their offset), for evidence."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)
