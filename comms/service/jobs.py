"""What travels through Redis: queue names, job ids and the JSON a job is made of.

A job carries only the event id: the event itself (a member's name, national number, address and
amounts) stays in the ledger's sealed snapshot, so Redis never holds personal data and a flushed
Redis loses nothing the ledger cannot rebuild.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal

URGENT_QUEUE = "comms:urgent"  # decisions and formal notices: never behind a bulk run
BULK_QUEUE = "comms:bulk"  # notices, certificates, statements: the quarter's big runs
QUEUES: dict[str, str] = {"urgent": URGENT_QUEUE, "bulk": BULK_QUEUE}
QueueKey = Literal["urgent", "bulk"]

DELIVER_TASK = "deliver"  # deliver(event_id): run one accepted event through the pipeline
SWEEP_TASK = "sweep"  # cron: re-enqueue events the ledger shows waiting without a job

JOB_KEY_PREFIX = "arq:job:"  # arq's own key for a queued, deferred or running job
RESULT_KEY_PREFIX = "arq:result:"  # arq's key for a finished job's result (blocks its id)


def job_id(event_id: str) -> str:
    """The one id every door and the sweeper use, so arq refuses a second job for a live one."""
    return f"{DELIVER_TASK}:{event_id}"


def queue_for(doc_type: str, urgent_types: Iterable[str]) -> str:
    return URGENT_QUEUE if doc_type in set(urgent_types) else BULK_QUEUE


def dumps(value: Any) -> bytes:
    """arq's serializer: JSON, not pickle (a job from Redis must never run code)."""
    return json.dumps(value, default=_plain, separators=(",", ":")).encode()


def loads(data: bytes) -> Any:
    return json.loads(data)


def _plain(value: Any) -> str:
    # arq stores a failed job's exception as its result: keep the class name only, since its
    # message might quote data; the reason of record is in the ledger.
    if isinstance(value, BaseException):
        return type(value).__name__
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
