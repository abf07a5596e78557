"""Delivery adapters: hand a rendered message to eBox, SMTP or a print shop; read back its fate.

They know nothing of events, templates, languages or the ledger (DESIGN.md).
"""

from channels.base import (
    Attachment,
    Channel,
    ChannelAddress,
    Outgoing,
    PermanentError,
    Receipt,
    StatusUpdate,
    TransientError,
)

__all__ = [
    "Attachment",
    "Channel",
    "ChannelAddress",
    "Outgoing",
    "PermanentError",
    "Receipt",
    "StatusUpdate",
    "TransientError",
]
