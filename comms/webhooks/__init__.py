"""Upstream learns what happened without asking: signed webhooks and a change feed (issue 18).

The ledger is read, never written: a fan-out turns new ledger rows into one signed message per
endpoint that wants them; a dispatcher posts them, retries them for over a day, then keeps them as
dead letters an operator replays (docs/webhooks.md).
"""

from comms.webhooks.changes import CHANGE_TYPES, Change, ChangeType, change_of
from comms.webhooks.store import Endpoint, OutboxMessage, WebhookStore

__all__ = [
    "CHANGE_TYPES",
    "Change",
    "ChangeType",
    "Endpoint",
    "OutboxMessage",
    "WebhookStore",
    "change_of",
]
