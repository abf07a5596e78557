"""Reading search filters from a request: the CLI's filters, with the person only as a hash."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import HTTPException, status

from comms.ledger import Filters, Ledger, ViewFilters
from comms.ledger.filters import parse_evidence, parse_moment
from comms.models import ChannelName, Status

SUBJECT_HEADER = "X-Comms-Subject"  # a clear number travels in a header: URLs end up in logs
FILTER_PARAMS = (
    "subject_hmac",
    "dossier",
    "event_id",
    "communication_id",
    "doc_type",
    "channel",
    "status",
    "since",
    "until",
    "evidence",
)


def _bad(field: str, problem: str) -> HTTPException:
    # The message names the field, never the value (it may be a person's number).
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, f"{field}: {problem}")


def filters_from(
    ledger: Ledger, params: Mapping[str, str], *, subject: str | None = None
) -> Filters:
    """Filters from query parameters (empty ones ignored) and, optionally, a clear number."""
    if "subject" in params:  # refused, not ignored: the caller must learn it leaked into a URL
        raise _bad("subject", f"never in a URL: send the {SUBJECT_HEADER} header or subject_hmac")
    values = {k: v.strip() for k, v in params.items() if k in FILTER_PARAMS and v.strip()}
    out: dict[str, Any] = {}
    for name in ("dossier", "event_id", "communication_id", "doc_type"):
        if name in values:
            out[name] = values[name]
    if subject:
        try:
            out["subject_hmac"] = ledger.subject_hmac(subject)
        except ValueError:
            raise _bad("subject", "not a valid national or enterprise number") from None
    elif "subject_hmac" in values:
        out["subject_hmac"] = values["subject_hmac"].lower()
    try:
        if "channel" in values:
            out["channel"] = ChannelName(values["channel"])
        if "status" in values:
            out["status"] = Status(values["status"])
    except ValueError:
        raise _bad("channel/status", "unknown value") from None
    for name in ("since", "until"):
        if name in values:
            try:
                out[name] = parse_moment(values[name])
            except ValueError as exc:
                raise _bad(name, str(exc)) from None
    if "evidence" in values:
        try:
            out["evidence_key"], out["evidence_value"] = parse_evidence(values["evidence"])
        except ValueError as exc:
            raise _bad("evidence", str(exc)) from None
    try:
        return Filters(**out)
    except ValueError as exc:
        raise _bad("filters", str(exc)) from None


def query_of(filters: Filters) -> dict[str, str]:
    """The filters back as query parameters (the form's names), for links and paging."""
    params = filters.as_params()
    key, value = params.pop("evidence_key", None), params.pop("evidence_value", None)
    if key is not None and value is not None:
        params["evidence"] = f"{key}={value}"
    return params


def view_filters_from(params: Mapping[str, str]) -> ViewFilters:
    values = {k: v.strip() for k, v in params.items() if v.strip()}
    try:
        return ViewFilters(
            document_sha256=values.get("document"),
            event_id=values.get("event_id"),
            viewer=values.get("viewer"),
            since=parse_moment(values["since"]) if "since" in values else None,
            until=parse_moment(values["until"]) if "until" in values else None,
        )
    except ValueError as exc:
        raise _bad("since/until", str(exc)) from None
