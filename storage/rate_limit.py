"""Redis rate limits: a fixed-window limiter and the staff-login lockout.

Both are shared by every worker process (the counters live in Redis).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from redis.asyncio import Redis

PREFIX = "linli:rate"
LOGIN_PREFIX = "linli:login"
LINK_CODE_PREFIX = "linli:linkcode"


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int  # seconds until the window resets (0 when allowed)


class RateLimiter:
    """At most `limit` hits per `window` seconds for one key (fixed windows)."""

    def __init__(self, redis: Redis, prefix: str = PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix

    async def hit(self, key: str, limit: int, window: int = 60) -> RateDecision:
        """Count one hit; `limit <= 0` disables the limit."""
        if limit <= 0:
            return RateDecision(True, limit, limit, 0)
        now = time.time()
        slot = int(now // window)
        redis_key = f"{self._prefix}:{key}:{slot}"
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(redis_key, 0, ex=window + 1, nx=True)
            pipe.incr(redis_key)
            _, count = await pipe.execute()
        reset_in = max(1, int((slot + 1) * window - now + 0.999))
        if count > limit:
            return RateDecision(False, limit, 0, reset_in)
        return RateDecision(True, limit, limit - count, 0)


class LoginGuard:
    """Locks a subject (a username, an IP, a resident guessing link codes) after
    `max_failures` failed attempts within `window` seconds, for `lock_seconds`."""

    def __init__(self, redis: Redis, max_failures: int = 5, window: int = 900, lock_seconds: int = 900,
                 prefix: str = LOGIN_PREFIX) -> None:
        self._redis = redis
        self._prefix = prefix
        self.max_failures = max_failures
        self.window = window
        self.lock_seconds = lock_seconds

    def _fail_key(self, subject: str) -> str:
        return f"{self._prefix}:fail:{subject}"

    def _lock_key(self, subject: str) -> str:
        return f"{self._prefix}:lock:{subject}"

    async def locked_for(self, *subjects: str) -> int:
        """Seconds the longest lock on any of the subjects still lasts (0: not locked)."""
        remaining = 0
        for subject in subjects:
            ttl = await self._redis.ttl(self._lock_key(subject))
            remaining = max(remaining, int(ttl) if ttl and ttl > 0 else 0)
        return remaining

    async def failed(self, *subjects: str) -> bool:
        """Count a failure for each subject; True when one of them is now locked."""
        locked = False
        for subject in subjects:
            key = self._fail_key(subject)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.set(key, 0, ex=self.window, nx=True)  # the window starts at the first failure
                pipe.incr(key)
                _, count = await pipe.execute()
            if count >= self.max_failures:
                await self._redis.set(self._lock_key(subject), "1", ex=self.lock_seconds)
                await self._redis.delete(key)
                locked = True
        return locked

    async def lock(self, subject: str, seconds: int) -> None:
        """Lock `subject` for `seconds` (replacing a shorter lock)."""
        await self._redis.set(self._lock_key(subject), "1", ex=max(1, seconds))

    async def succeeded(self, *subjects: str) -> None:
        await self._redis.delete(*(self._fail_key(s) for s in subjects))
