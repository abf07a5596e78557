"""The ledger's records as JSON objects, spelt one way for the compliance API and a person's export.

Times as the chain spells them (`format_at`), days in ISO, enums by value: a reader comparing an
API answer with an export or the log itself sees the same text.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any

from comms.ledger.chain import format_at

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

# What a tombstone says about a purge. The compliance API adds the chain anchors (`chain_seq`,
# `row_hash`); a person's export leaves them out.
TOMBSTONE_FIELDS = (
    "seq",
    "at",
    "kind",
    "event_id",
    "doc_type",
    "content_sha256",
    "rule",
    "retained_until",
    "actor",
)


def json_record(record: DataclassInstance, names: Iterable[str] | None = None) -> dict[str, Any]:
    """The record's fields, or the named ones in that order, as JSON values."""
    if names is None:
        names = (field.name for field in dataclasses.fields(record))
    return {name: _json_value(getattr(record, name)) for name in names}


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):  # before date: a datetime is a date
        return format_at(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return dict(value)
    return value
