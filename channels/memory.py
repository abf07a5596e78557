"""A channel that keeps every message in a list instead of sending it (Django's locmem mail backend).

For tests of orchestration: the pipeline, routing and fallbacks see channels that behave exactly
as `channels.base` says; what a channel does on the wire, and what its feedback (bounces, eBox
read statuses, print-shop files) does to the log, is tested against the real server, mailbox or
file in tests/channels and tests/tracking.
"""

from __future__ import annotations

from collections import deque

from channels.base import (
    BaseChannel,
    ChannelState,
    Outgoing,
    PermanentError,
    Receipt,
    TransientError,
)


class MemoryChannel(BaseChannel):
    """`sent` holds what was taken, in order; `fail_next` makes the next sends fail first."""

    def __init__(self, name: str, *, outcome: ChannelState = "dispatched") -> None:
        self.name = name
        self.outcome = outcome  # what a taken message becomes: email and post "dispatched"
        self.sent: list[Outgoing] = []
        self.is_open = False
        self._failures: deque[TransientError | PermanentError] = deque()

    def fail_next(self, error: TransientError | PermanentError, *, count: int = 1) -> None:
        """The next `count` sends raise `error` (a 4xx is transient, a 5xx permanent)."""
        self._failures.extend([error] * count)

    async def open(self) -> None:
        self.is_open = True

    async def close(self) -> None:
        self.is_open = False

    async def send(self, outgoing: Outgoing) -> Receipt:
        if self._failures:
            raise self._failures.popleft()
        self.sent.append(outgoing)
        return Receipt(
            channel=self.name,
            communication_id=outgoing.communication_id,
            outcome=self.outcome,
            evidence={"memory_index": str(len(self.sent))},
        )
