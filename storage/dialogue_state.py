"""Per-user dialogue state in Redis: the current flow and its filled slots, with a TTL.

An abandoned conversation simply expires; the next message starts fresh.
"""
from __future__ import annotations

import json
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, AsyncIterator

from redis.asyncio import Redis

KEY = "linli:dialogue:{user_key}"
LOCK = "linli:lock:dialogue:{user_key}"


@dataclass
class DialogueState:
    flow: str | None = None
    step: str | None = None
    slots: dict[str, Any] = field(default_factory=dict)
    # Misunderstood turns in a row: after two, a human is offered.
    misses: int = 0
    elder_mode: bool = False
    # Main-menu number -> intent, as last shown to this user.
    menu: dict[str, str] = field(default_factory=dict)
    # A flow put aside for a digression ({flow, step, slots}); offered back when it ends.
    paused: dict[str, Any] | None = None
    # The last topic a follow-up may refer to once its flow ended ({"flow": name}): "那洗衣皂呢".
    topic: dict[str, Any] | None = None

    def start(self, flow: str, step: str | None = None, **slots: Any) -> None:
        self.flow, self.step, self.slots = flow, step, dict(slots)

    def end(self) -> None:
        self.flow, self.step, self.slots = None, None, {}

    @classmethod
    def from_json(cls, raw: str | None) -> "DialogueState":
        if not raw:
            return cls()
        try:
            data = json.loads(raw)
        except ValueError:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, default=str)


class DialogueStateStore:
    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self.ttl_seconds = ttl_seconds

    async def load(self, user_key: str) -> DialogueState:
        return DialogueState.from_json(await self._redis.get(KEY.format(user_key=user_key)))

    async def save(self, user_key: str, state: DialogueState) -> None:
        key = KEY.format(user_key=user_key)
        if state == DialogueState():
            await self._redis.delete(key)
        else:
            await self._redis.set(key, state.to_json(), ex=self.ttl_seconds)

    async def clear(self, user_key: str) -> None:
        await self._redis.delete(KEY.format(user_key=user_key))

    @asynccontextmanager
    async def locked(self, user_key: str, timeout: float = 30.0) -> AsyncIterator[None]:
        """Serialise one user's turns across tasks and worker processes."""
        lock = self._redis.lock(LOCK.format(user_key=user_key), timeout=timeout, blocking_timeout=timeout)
        async with lock:
            yield
