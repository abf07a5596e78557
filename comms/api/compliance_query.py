"""Reading search filters from a request: the CLI's filters, with the person only as a hash."""

from __future__ import annotations

from collections.abc import Mapping

from fastapi import HTTPException, status

from comms.ledger import Filters, Ledger, ViewFilters
from comms.ledger.filters import FilterProblem

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
    hashed = None
    if subject:
        try:
            hashed = ledger.subject_hmac(subject)
        except ValueError:
            raise _bad("subject", "not a valid national or enterprise number") from None
    try:
        return Filters.from_text(
            {k: v for k, v in params.items() if k in FILTER_PARAMS}, subject_hmac=hashed
        )
    except FilterProblem as exc:
        raise _bad(exc.field, exc.problem) from None


def query_of(filters: Filters) -> dict[str, str]:
    """The filters back as query parameters (the form's names), for links and paging."""
    params = filters.as_params()
    key, value = params.pop("evidence_key", None), params.pop("evidence_value", None)
    if key is not None and value is not None:
        params["evidence"] = f"{key}={value}"
    return params


def view_filters_from(params: Mapping[str, str]) -> ViewFilters:
    try:
        return ViewFilters.from_text(params)
    except FilterProblem as exc:
        raise _bad(exc.field, exc.problem) from None
