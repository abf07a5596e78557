"""A channel that keeps every message in a list instead of sending it (Django's locmem mail backend),
and feedback a test scripts instead of a bounce mailbox, an eBox or a print shop's folder.

For tests of orchestration: the pipeline, routing, fallbacks and tracking see channels and
feedback sources that behave exactly as `channels.base` says; what a channel does on the wire is
tested against the real server (SMTP sink, eBox simulator, print files) in tests/channels.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from channels.base import (
    BaseChannel,
    BounceKind,
    BounceReport,
    ChannelState,
    FileFeedback,
    Outgoing,
    PermanentError,
    Receipt,
    RecipientStatus,
    StatusQuery,
    StatusUpdate,
    TransientError,
    placed_update,
)


class MemoryChannel(BaseChannel):
    """`sent` holds what was taken, in order; `fail_next` makes the next sends fail first."""

    def __init__(
        self, name: str, *, outcome: ChannelState = "dispatched", id_key: str = "memory_index"
    ) -> None:
        self.name = name
        self.outcome = outcome  # what a taken message becomes: email and post "dispatched"
        self.id_key = id_key  # the evidence naming the channel's own id (eBox: ebox_message_id)
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
            evidence={self.id_key: str(len(self.sent))},
        )


@dataclass(frozen=True)
class MemoryRun:
    """A print batch the fake cut: its letters in order."""

    batch_id: str
    cut_at: datetime
    communication_ids: tuple[str, ...]

    def status_updates(self) -> list[StatusUpdate]:
        return [
            placed_update(self.batch_id, n, cid)
            for n, cid in enumerate(self.communication_ids, start=1)
        ]


@dataclass
class MemoryFeedback:
    """Every feedback source of `channels.base` at once, scripted by the test, recording the asks.

    A test fills `mailbox` (or calls `bounce`), `read`, `acknowledged`, `returned` and `waiting`;
    tracking then finds exactly that, whatever path or file content it passes.
    """

    mailbox: list[BounceReport] = field(default_factory=list)  # the next import's messages
    read: set[str] = field(default_factory=set)  # communication ids the eBox reports read
    acknowledged: list[StatusUpdate] = field(default_factory=list)  # any acknowledgement file
    returned: list[StatusUpdate] = field(default_factory=list)  # any returns file
    waiting: list[str] = field(default_factory=list)  # post letters the next cut batches
    runs: list[MemoryRun] = field(default_factory=list)
    asked: list[StatusQuery] = field(default_factory=list)  # every read-status question
    opened: list[Path] = field(default_factory=list)  # every mail store tracking read
    files: list[bytes] = field(default_factory=list)  # every print-shop file tracking read

    def bounce(
        self, communication_id: str, *, status: str = "5.1.1", smtp_code: str = "550"
    ) -> None:
        """A hard bounce of this message waits in the mailbox."""
        recipient = RecipientStatus("failed", status, smtp_code, "permanent failure (scripted)")
        digest = hashlib.sha256(communication_id.encode()).hexdigest()
        self.mailbox.append(
            BounceReport(BounceKind.FAILED, (communication_id,), (recipient,), "scripted", digest)
        )

    def classify(self, raw: bytes) -> BounceReport:
        if self.mailbox:
            return self.mailbox.pop(0)
        digest = hashlib.sha256(raw).hexdigest()
        return BounceReport(BounceKind.UNKNOWN, (), (), "not a bounce", digest)

    def reports(self, path: Path) -> Iterator[tuple[str, BounceReport]]:
        self.opened.append(path)
        found, self.mailbox = self.mailbox, []
        for number, report in enumerate(found, start=1):
            yield f"{path.name}#{number}", report

    async def read_statuses(self, message_ids: Sequence[StatusQuery]) -> list[StatusUpdate]:
        self.asked.extend(message_ids)
        return [
            StatusUpdate("ebox", q.communication_id, "read", {"ebox_message_id": q.message_id})
            for q in message_ids
            if q.communication_id in self.read
        ]

    def acknowledgements(self, content: bytes) -> FileFeedback:
        self.files.append(content)
        return FileFeedback(list(self.acknowledged))

    def returns(self, content: bytes) -> FileFeedback:
        self.files.append(content)
        return FileFeedback(list(self.returned))

    def cut(self, *, force: bool) -> list[MemoryRun]:
        """Every waiting letter in one batch, full or not."""
        if not self.waiting:
            return []
        run = MemoryRun(f"memory-{len(self.runs) + 1}", datetime.now(UTC), tuple(self.waiting))
        self.waiting.clear()
        self.runs.append(run)
        return [run]

    def placed_since(self, since: datetime) -> list[StatusUpdate]:
        return [u for run in self.runs if run.cut_at >= since for u in run.status_updates()]
