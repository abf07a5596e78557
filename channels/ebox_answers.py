"""Read the eBox's HTTP answers: evidence for a receipt, or the error that says what to do next."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from channels.base import PermanentError, TransientError
from channels.ebox_auth import AUTH_RETRY_S
from channels.redact import scrub

log = logging.getLogger("channels.ebox")
DEFAULT_RETRY_S = 60.0  # when a 429/5xx comes without Retry-After


def raise_for_refusal(response: httpx.Response) -> None:
    """domain/ebox.md: 5xx and 429 are transient; 401/403 are ours to fix; other 4xx are final."""
    status = response.status_code
    if 200 <= status < 300:
        return
    if status < 400:
        raise TransientError(f"eBox answered an unexpected {status}")
    if status == 429 or status >= 500:
        raise TransientError(f"eBox answered {status}", retry_after_s=_retry_after(response))
    error = json_or_empty(response)
    code = scrub(str(error.get("code") or f"HTTP_{status}"))
    if status in (401, 403):
        # A refused token or a missing scope is a configuration problem, not this letter's:
        # falling back to paper for every letter would hide it.
        log.error("ebox refused our credentials", extra={"http_status": status, "ebox_code": code})
        raise TransientError(
            f"eBox refused credentials ({status} {code})", retry_after_s=AUTH_RETRY_S
        )
    evidence = {"http_status": str(status), "ebox_error_code": code}
    if error.get("id"):
        evidence["ebox_error_id"] = str(error["id"])
    if error.get("message"):
        evidence["ebox_error_message"] = scrub(str(error["message"]))
    log.warning("ebox refused message", extra={"http_status": status, "ebox_code": code})
    raise PermanentError(f"eBox refused: {code}", evidence=evidence)


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


def json_or_empty(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def published_ids(body: Mapping[str, Any]) -> dict[str, str]:
    ids = {"ebox_message_id": body.get("messageId"), "expiration_date": body.get("expirationDate")}
    return {k: str(v) for k, v in ids.items() if v}


def items(body: Any) -> list[dict[str, Any]]:
    """The answer as a list, whether bare or wrapped in `items` (the v3 shape is not published)."""
    if isinstance(body, dict):
        body = body.get("items", [])
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []
