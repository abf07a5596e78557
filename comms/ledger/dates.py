"""The few dates of an event that reports compare with sending times, taken at acceptance."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from comms.doctypes import DOC_TYPES


def key_dates(snapshot_json: str) -> dict[str, date]:
    """The dates this event carries; an unreadable or foreign snapshot simply has none."""
    try:
        event = json.loads(snapshot_json)
    except ValueError:
        return {}
    doc_type = DOC_TYPES.get(str(event.get("type"))) if isinstance(event, dict) else None
    if doc_type is None:
        return {}
    found: dict[str, date] = {}
    for name, path in doc_type.key_dates.items():  # name in `event_dates` → path in the JSON
        value: Any = event
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            try:
                found[name] = date.fromisoformat(value)
            except ValueError:
                continue
    return found
