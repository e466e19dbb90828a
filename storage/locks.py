"""Named critical sections: in one process (asyncio) or across worker processes (Redis).

`Serializer` is what services take: `async with serialize("reports:huafu-tianmian:streetlight")`.
"""
from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncContextManager, AsyncIterator, Callable

from redis.asyncio import Redis

Serializer = Callable[[str], AsyncContextManager[None]]
LOCK_KEY = "linli:lock:{name}"


def local_serializer() -> Serializer:
    """Per-name asyncio locks: enough within one process (tests, scripts)."""
    locks: dict[str, asyncio.Lock] = {}

    @contextlib.asynccontextmanager
    async def serialize(name: str) -> AsyncIterator[None]:
        lock = locks.setdefault(name, asyncio.Lock())
        async with lock:
            yield

    return serialize


def redis_serializer(redis: Redis, timeout: float = 30.0, wait: float = 30.0) -> Serializer:
    """A Redis lock per name shared by every worker (released after `timeout` if its
    holder died); waiting longer than `wait` raises redis' LockError (a 503)."""

    @contextlib.asynccontextmanager
    async def serialize(name: str) -> AsyncIterator[None]:
        async with redis.lock(LOCK_KEY.format(name=name), timeout=timeout, blocking_timeout=wait):
            yield

    return serialize
