"""Opaque session tokens in Redis (mini-program API and staff console).

The client holds a random token; Redis holds only its SHA-256, so a Redis dump does
not contain usable tokens. Each session belongs to an owner (a resident id, a staff id)
so all of an owner's sessions can be revoked at once.
"""
from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

from redis.asyncio import Redis

KEY = "linli:session:{kind}:{digest}"
OWNER_KEY = "linli:sessions:{kind}:owner:{owner}"
TOKEN_BYTES = 32
MAX_TOKEN_CHARS = 128


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    def __init__(self, redis: Redis, kind: str, ttl_seconds: int, *, sliding: bool = False) -> None:
        self._redis = redis
        self.kind = kind
        self.ttl_seconds = ttl_seconds
        self.sliding = sliding  # True: each use extends the session (idle timeout)

    def _key(self, token: str) -> str:
        return KEY.format(kind=self.kind, digest=_digest(token))

    async def create(self, data: dict[str, Any], owner: str | None = None, ttl: int | None = None) -> str:
        token = secrets.token_urlsafe(TOKEN_BYTES)
        ttl = ttl or self.ttl_seconds
        payload = dict(data, owner=owner)
        await self._redis.set(self._key(token), json.dumps(payload, ensure_ascii=False, default=str), ex=ttl)
        if owner:
            owner_key = OWNER_KEY.format(kind=self.kind, owner=owner)
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.sadd(owner_key, _digest(token))
                pipe.expire(owner_key, max(ttl, self.ttl_seconds))
                await pipe.execute()
        return token

    async def get(self, token: str | None) -> dict[str, Any] | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        key = self._key(token)
        raw = await self._redis.get(key)
        if raw is None:
            return None
        if self.sliding:
            await self._redis.expire(key, self.ttl_seconds)
        try:
            data = json.loads(raw)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    async def update(self, token: str, data: dict[str, Any]) -> None:
        """Replace a session's data, keeping its expiry."""
        await self._redis.set(self._key(token), json.dumps(data, ensure_ascii=False, default=str), keepttl=True)

    async def delete(self, token: str | None) -> None:
        if token and len(token) <= MAX_TOKEN_CHARS:
            await self._redis.delete(self._key(token))

    async def revoke_owner(self, owner: str) -> int:
        """End every session of one owner; how many there were."""
        owner_key = OWNER_KEY.format(kind=self.kind, owner=owner)
        digests = await self._redis.smembers(owner_key)
        keys = [KEY.format(kind=self.kind, digest=d) for d in digests]
        removed = await self._redis.delete(*keys) if keys else 0
        await self._redis.delete(owner_key)
        return int(removed)
