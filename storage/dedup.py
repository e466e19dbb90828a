"""Once-only processing of channel messages, shared by all worker processes via Redis.

A message id is claimed with SET NX. The claimant stores its replies when done; a
retry of that message gets the stored replies, and a retry that arrives while the first
is still being processed can wait for them.

Replies can hold personal details (a phone number read back), so their text is kept
only `reply_ttl_seconds` (2 minutes: WeChat retries within ~15 s, clients within
seconds) under `<key>:reply`; the claim itself stays `ttl_seconds` (24 h) as a bare
"done" marker, so a late retry is still answered once and with nothing personal
(an empty reply list).
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
DONE = "__done__"
REPLY_SUFFIX = ":reply"


@dataclass
class Claim:
    new: bool
    replies: list[dict[str, Any]] | None = None  # set when a finished duplicate

    @property
    def pending(self) -> bool:
        return not self.new and self.replies is None


class Deduplicator:
    def __init__(self, redis: Redis, ttl_seconds: int = 24 * 3600, pending_ttl_seconds: int = 60,
                 reply_ttl_seconds: int = 120) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds
        self.pending_ttl_seconds = pending_ttl_seconds
        self.reply_ttl_seconds = min(reply_ttl_seconds, ttl_seconds)

    @staticmethod
    def key(scope: str, message_id: str) -> str:
        return KEY.format(scope=scope, message_id=message_id)

    async def claim(self, scope: str, message_id: str) -> Claim:
        key = self.key(scope, message_id)
        if await self._redis.set(key, PENDING, nx=True, ex=self.pending_ttl_seconds):
            return Claim(new=True)
        return Claim(new=False, replies=await self._replies(key))

    async def _replies(self, key: str) -> list[dict[str, Any]] | None:
        state = await self._redis.get(key)
        if state != DONE:
            return _decode(state)  # pending (None), or a value stored by an older version
        return _decode(await self._redis.get(key + REPLY_SUFFIX)) or []

    async def finish(self, scope: str, message_id: str, replies: list[dict[str, Any]]) -> None:
        key = self.key(scope, message_id)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(key + REPLY_SUFFIX, json.dumps(replies, ensure_ascii=False), ex=self.reply_ttl_seconds)
            pipe.set(key, DONE, ex=self.ttl_seconds)
            await pipe.execute()

    async def release(self, scope: str, message_id: str) -> None:
        """Forget a claim whose processing failed, so that a retry can try again."""
        key = self.key(scope, message_id)
        await self._redis.delete(key, key + REPLY_SUFFIX)

    async def wait(self, scope: str, message_id: str, timeout: float) -> list[dict[str, Any]] | None:
        """Poll for the first processing's replies; None if they do not come in time."""
        key = self.key(scope, message_id)
        deadline = time.monotonic() + timeout
        delay = 0.02
        while time.monotonic() < deadline:
            replies = await self._replies(key)
            if replies is not None:
                return replies
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        return None


def _decode(raw: str | None) -> list[dict[str, Any]] | None:
    if raw is None or raw in (PENDING, DONE):
        return None
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, list) else None
