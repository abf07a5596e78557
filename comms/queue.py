"""The arq client every door, the worker and the sweeper share; it knows nothing of the app.

The Python door is `comms.service.intake.enqueue`. The ledger is written before Redis: an event a
door answered `accepted` for is never lost, even if Redis is flushed before a worker took it (the
sweeper queues it again). See docs/queue.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

import redis
from arq.connections import ArqRedis
from redis.asyncio import ConnectionPool

from comms.service.jobs import (
    BULK_QUEUE,
    DELIVER_TASK,
    JOB_KEY_PREFIX,
    QUEUES,
    RESULT_KEY_PREFIX,
    dumps,
    job_id,
    loads,
    queue_for,
)
from comms.settings import Settings

REDIS_CONNECT_TIMEOUT_S = 2.0  # a door answers quickly even when Redis is away
REDIS_COMMAND_TIMEOUT_S = 10.0


def redis_client(url: str) -> ArqRedis:
    """An arq client with JSON jobs; connects on first use, so building it never fails."""
    pool = ConnectionPool.from_url(
        url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S, socket_timeout=REDIS_COMMAND_TIMEOUT_S
    )
    return ArqRedis(
        pool, job_serializer=dumps, job_deserializer=loads, default_queue_name=BULK_QUEUE
    )


def ping_redis(url: str) -> None:
    """Raises if Redis does not answer (for `/health`, which is synchronous)."""
    client = redis.Redis.from_url(
        url, socket_connect_timeout=REDIS_CONNECT_TIMEOUT_S, socket_timeout=REDIS_CONNECT_TIMEOUT_S
    )
    try:
        client.ping()
    finally:
        client.close()


class Queue:
    """Puts event ids on their priority queue; tells which have a live job; counts the queues."""

    def __init__(self, client: ArqRedis, settings: Settings) -> None:
        self.redis = client
        self._urgent_types = tuple(settings.urgent_types)
        self._expires = timedelta(seconds=settings.job_expires_s)

    @classmethod
    def from_settings(cls, settings: Settings) -> Queue:
        return cls(redis_client(settings.redis_url), settings)

    def __repr__(self) -> str:  # no URL: it may carry a password
        return "Queue()"

    def queue_of(self, doc_type: str) -> str:
        return queue_for(doc_type, self._urgent_types)

    async def put(self, event_id: str, doc_type: str, *, suffix: str = "") -> bool:
        """Queues `deliver(event_id)`; False when a job with that id is already queued or running.

        `suffix` makes a distinct job id (an operator's retry), for when a finished job's result
        still holds the plain id; the worker's per-event lock keeps two runs apart anyway.
        """
        job = await self.redis.enqueue_job(
            DELIVER_TASK,
            event_id,
            _job_id=job_id(event_id) + suffix,
            _queue_name=self.queue_of(doc_type),
            _expires=self._expires,
        )
        return job is not None

    async def requeue(self, event_id: str, doc_type: str) -> bool:
        """Queues a waiting event again even if a finished job's result still holds its id.

        Only for events the ledger shows waiting with no live job (the sweeper's): the stale
        result then only stands in the way, since every answer comes from the ledger.
        """
        if await self.put(event_id, doc_type):
            return True
        await self.redis.delete(RESULT_KEY_PREFIX + job_id(event_id))
        return await self.put(event_id, doc_type)

    async def live(self, event_ids: Iterable[str]) -> set[str]:
        """The events among `event_ids` that have a queued, deferred or running job."""
        ids = list(event_ids)
        if not ids:
            return set()
        async with self.redis.pipeline(transaction=False) as pipe:
            for event_id in ids:
                pipe.exists(JOB_KEY_PREFIX + job_id(event_id))
            found = await pipe.execute()
        return {event_id for event_id, n in zip(ids, found, strict=True) if n}

    async def depth(self) -> dict[str, int]:
        """Jobs per queue (waiting, deferred and running: arq keeps all three in the sorted set)."""
        return {key: int(await self.redis.zcard(name)) for key, name in QUEUES.items()}

    async def close(self) -> None:
        await self.redis.aclose(close_connection_pool=True)
