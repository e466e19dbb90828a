"""Staff-login lockout per (username, client), with back-off; never the account for all.

- Pair: `max_failures` wrong passwords for one username from one client address within
  the window lock that pair. Each further lock of the same pair within a day lasts twice
  as long (15 min, 30 min, 1 h, ... at most a day). The same username from any other
  address can still log in, so nobody locks a colleague out from afar.
- Client: a client spraying many usernames is locked as a whole after
  `max_failures * IP_FACTOR` failures.
- Staff unlock a username (every pair of it) in the console (`unlock_user`).
"""
from __future__ import annotations

from dataclasses import dataclass

from redis.asyncio import Redis

from storage.rate_limit import LOGIN_PREFIX, LoginGuard

IP_FACTOR = 4
MAX_LOCK_SECONDS = 24 * 3600
BACKOFF_MEMORY_SECONDS = 24 * 3600


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


@dataclass(frozen=True)
class ActiveLock:
    client: str
    seconds: int


class StaffLoginLock:
    def __init__(self, redis: Redis, max_failures: int = 5, lock_seconds: int = 900) -> None:
        self._redis = redis
        self.lock_seconds = lock_seconds
        self.pairs = LoginGuard(redis, max_failures, lock_seconds, lock_seconds, prefix=f"{LOGIN_PREFIX}:pair")
        self.clients = LoginGuard(
            redis, max_failures * IP_FACTOR, lock_seconds, lock_seconds, prefix=f"{LOGIN_PREFIX}:client"
        )

    @staticmethod
    def _pair(username: str, client: str) -> str:
        return f"{username.lower()}|{client}"

    def _locks_key(self, pair: str) -> str:
        return f"{LOGIN_PREFIX}:pair:locks:{pair}"

    async def locked_for(self, username: str, client: str) -> int:
        """Seconds the pair's or the client's lock still lasts (0: may try)."""
        return max(await self.pairs.locked_for(self._pair(username, client)), await self.clients.locked_for(client))

    async def failed(self, username: str, client: str) -> int:
        """Count a wrong password; the seconds of the lock it caused (0: none)."""
        pair = self._pair(username, client)
        seconds = 0
        if await self.pairs.failed(pair):
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.incr(self._locks_key(pair))
                pipe.expire(self._locks_key(pair), BACKOFF_MEMORY_SECONDS)
                locks, _ = await pipe.execute()
            seconds = min(self.lock_seconds * 2 ** (int(locks) - 1), MAX_LOCK_SECONDS)
            await self.pairs.lock(pair, seconds)
        if await self.clients.failed(client):
            seconds = max(seconds, self.lock_seconds)
        return seconds

    async def succeeded(self, username: str, client: str) -> None:
        await self.pairs.succeeded(self._pair(username, client))

    async def locks_of(self, username: str) -> list[ActiveLock]:
        """The clients currently locked out of `username`."""
        prefix = f"{LOGIN_PREFIX}:pair:lock:{username.lower()}|"
        found = []
        async for key in self._redis.scan_iter(match=_glob_escape(prefix) + "*", count=200):
            ttl = await self._redis.ttl(key)
            if ttl and ttl > 0 and "|" not in key[len(prefix):]:
                found.append(ActiveLock(key[len(prefix):], int(ttl)))
        return sorted(found, key=lambda lock: lock.client)

    async def unlock_user(self, username: str) -> int:
        """Lift every lock on `username` (and forget its back-off); how many there were."""
        base = username.lower()
        keys: list[str] = []
        for kind in ("lock", "fail", "locks"):
            prefix = f"{LOGIN_PREFIX}:pair:{kind}:{base}|"
            keys.extend([key async for key in self._redis.scan_iter(match=_glob_escape(prefix) + "*", count=200)
                         if "|" not in key[len(prefix):]])
        locks = [k for k in keys if f":pair:lock:{base}|" in k]
        if keys:
            await self._redis.delete(*keys)
        return len(locks)
