"""Per-event bookkeeping in Redis: starts that never ended (crashes), and one run at a time.

A run increments the event's start counter first and decrements it when it ends in any orderly
way (a verdict, a deferred retry, a shutdown). A worker killed mid-run (SIGKILL, out of memory, a
crash in native code) never decrements, so the counter is the number of crashes. Both keys are
work-in-progress, not truth: a flushed Redis forgets them, which costs at most three more crashes.
"""

from __future__ import annotations

import secrets

from arq.connections import ArqRedis

CRASHES_PREFIX = "comms:starts:"
LOCK_PREFIX = "comms:lock:"
CRASH_MEMORY_S = 14 * 86400  # a crash older than two weeks is forgotten
# Deletes the lock only if it still holds our token: a run that outlived its lock must not
# release the next run's.
_UNLOCK = (
    "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"
)


class Guard:
    """Crash counting and the per-event lock, over the worker's Redis connection."""

    def __init__(self, redis: ArqRedis) -> None:
        self._redis = redis

    async def start(self, event_id: str) -> int:
        """Counts this start; returns how many starts of the event have not ended, this one included."""
        key = CRASHES_PREFIX + event_id
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, CRASH_MEMORY_S)
            count, _ = await pipe.execute()
        return int(count)

    async def ended(self, event_id: str) -> None:
        """This start ended in an orderly way: it was not a crash."""
        await self._redis.decr(CRASHES_PREFIX + event_id)

    async def crashes(self, event_id: str) -> int:
        value = await self._redis.get(CRASHES_PREFIX + event_id)
        return int(value or 0)

    async def forget(self, event_id: str) -> None:
        """An operator retries a quarantined event: its crash count starts again."""
        await self._redis.delete(CRASHES_PREFIX + event_id)

    async def lock(self, event_id: str, ttl_s: float) -> str | None:
        """A token if no other run of this event holds the lock, else None."""
        token = secrets.token_hex(8)
        got = await self._redis.set(LOCK_PREFIX + event_id, token, nx=True, px=int(ttl_s * 1000))
        return token if got else None

    async def unlock(self, event_id: str, token: str) -> None:
        await self._redis.eval(_UNLOCK, 1, LOCK_PREFIX + event_id, token)  # type: ignore[misc]
