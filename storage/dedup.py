"""Once-only processing of channel messages, shared by all worker processes via Redis.

A message id is claimed with SET NX. The claimant stores its replies under the same
key when done; a retry of that message gets the stored replies, and a retry that
arrives while the first is still being processed can wait for them.
"""
from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

KEY = "linli:dedup:{scope}:{message_id}"
PENDING = "__pending__"


@dataclass
class Claim:
    new: bool
    replies: list[dict[str, Any]] | None = None  # set when a finished duplicate

    @property
    def pending(self) -> bool:
        return not self.new and self.replies is None


class Deduplicator:
    def __init__(self, redis: Redis, ttl_seconds: int = 24 * 3600, pending_ttl_seconds: int = 60) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds
        self.pending_ttl_seconds = pending_ttl_seconds

    @staticmethod
    def key(scope: str, message_id: str) -> str:
        return KEY.format(scope=scope, message_id=message_id)

    async def claim(self, scope: str, message_id: str) -> Claim:
        key = self.key(scope, message_id)
        if await self._redis.set(key, PENDING, nx=True, ex=self.pending_ttl_seconds):
            return Claim(new=True)
        return Claim(new=False, replies=_decode(await self._redis.get(key)))

    async def finish(self, scope: str, message_id: str, replies: list[dict[str, Any]]) -> None:
        await self._redis.set(self.key(scope, message_id), json.dumps(replies, ensure_ascii=False), ex=self.ttl_seconds)

    async def release(self, scope: str, message_id: str) -> None:
        """Forget a claim whose processing failed, so that a retry can try again."""
        await self._redis.delete(self.key(scope, message_id))

    async def wait(self, scope: str, message_id: str, timeout: float) -> list[dict[str, Any]] | None:
        """Poll for the first processing's replies; None if they do not come in time."""
        key = self.key(scope, message_id)
        deadline = time.monotonic() + timeout
        delay = 0.02
        while time.monotonic() < deadline:
            replies = _decode(await self._redis.get(key))
            if replies is not None:
                return replies
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        return None


def _decode(raw: str | None) -> list[dict[str, Any]] | None:
    if raw is None or raw == PENDING:
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, list) else None
