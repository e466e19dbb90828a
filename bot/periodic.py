"""Periodic background jobs that run once per tick across all worker processes.

Every worker runs the same loop; at each tick a worker first claims the job's Redis key
(`SET NX` with an expiry a little shorter than the interval). Only the worker that got
it runs the job, so with N workers the job still runs about once per interval. The
expiry is Redis's own (exact), not a database TTL sweep. bot/bootstrap.py builds every
job (report escalation, booking reminders and slots, points and sharing) and starts and
stops them with the app:

    task = PeriodicTask("reports", 300, service.run_timers, redis)
    task.start()  ...  await task.stop()

`tick()` runs one claimed tick by hand (tests; no waiting on the clock).
"""
from __future__ import annotations

import asyncio
import logging
import random
import uuid
from typing import Any, Awaitable, Callable

from redis.asyncio import Redis

log = logging.getLogger(__name__)

KEY = "linli:periodic:{name}"


class PeriodicTask:
    def __init__(
        self,
        name: str,
        interval: float,
        job: Callable[[], Awaitable[Any]],
        redis: Redis | Callable[[], Redis],
    ) -> None:
        """`redis` is a client or a function returning one (the app's, created later)."""
        if interval <= 0:
            raise ValueError("interval must be positive")
        self.name = name
        self.interval = float(interval)
        self.job = job
        self._redis = redis
        self._running = False
        self._task: asyncio.Task | None = None
        self.token = uuid.uuid4().hex  # identifies this process in the lock value

    @property
    def key(self) -> str:
        return KEY.format(name=self.name)

    def redis(self) -> Redis:
        return self._redis() if callable(self._redis) and not isinstance(self._redis, Redis) else self._redis

    async def claim(self) -> bool:
        """Claim this tick for this process; False when another worker has it."""
        hold_ms = max(100, int(self.interval * 1000 * 0.9))
        return bool(await self.redis().set(self.key, self.token, nx=True, px=hold_ms))

    async def tick(self) -> bool:
        """Run the job if this process wins the tick; True when it ran."""
        if self._running or not await self.claim():
            return False
        self._running = True
        try:
            await self.job()
            return True
        finally:
            self._running = False

    async def _loop(self) -> None:
        # Spread the first tick so workers started together do not all race at once.
        await asyncio.sleep(random.uniform(0.1, 1.0) * min(self.interval, 30.0))
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("periodic job %s failed", self.name)
            await asyncio.sleep(self.interval)

    def start(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name=f"periodic:{self.name}")

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
