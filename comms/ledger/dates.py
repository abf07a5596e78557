"""The few dates of an event that reports compare with sending times, taken at acceptance."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

# Name in `event_dates` → where the event JSON holds it (comms/events.py payloads).
KEY_DATES: dict[str, tuple[str, ...]] = {
    "due_date": ("payload", "due_date"),  # contribution notices (domain §4: end of the quarter)
    "decision_date": ("payload", "decision_date"),  # decisions (charter art. 14)
    "deadline": ("payload", "deadline"),  # formal notices
    "new_deadline": ("payload", "new_deadline"),  # payment reminders
}


def key_dates(snapshot_json: str) -> dict[str, date]:
    """The dates this event carries; an unreadable or foreign snapshot simply has none."""
    try:
        event = json.loads(snapshot_json)
    except ValueError:
        return {}
    found: dict[str, date] = {}
    for name, path in KEY_DATES.items():
        value: Any = event
        for part in path:
            value = value.get(part) if isinstance(value, dict) else None
        if isinstance(value, str):
            try:
                found[name] = date.fromisoformat(value)
            except ValueError:
                continue
    return found
