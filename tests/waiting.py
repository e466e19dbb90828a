"""Waiting on the thing itself, not on the clock.

`expired(redis, pattern)` returns once Redis has expired every key matching `pattern`
(a session, a dialogue state with a TTL): it listens to Redis's own keyspace `expired`
events, and the generous bound only stops a broken run.
"""
from __future__ import annotations

import asyncio

from redis.exceptions import ResponseError

BOUND = 60.0  # seconds; a wait ends as soon as the awaited thing happens


async def expired(redis, pattern: str, bound: float = BOUND) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + bound
    pubsub = None
    try:
        await redis.config_set("notify-keyspace-events", "Egx")  # keyevent notices of generic + expired
        db = redis.connection_pool.connection_kwargs.get("db", 0)
        pubsub = redis.pubsub()
        await pubsub.subscribe(f"__keyevent@{db}__:expired")
    except ResponseError:  # a server that refuses CONFIG: fall back to asking it about the keys
        pubsub = None
    try:
        # Subscribed before looking, so an expiry between the look and the wait is not missed.
        while await redis.keys(pattern):
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"keys {pattern!r} did not expire within {bound:.0f} s")
            if pubsub is None:
                await asyncio.sleep(min(remaining, 0.05))
            else:
                # Any expiry wakes us to look again; KEYS also expires keys past their TTL.
                await pubsub.get_message(ignore_subscribe_messages=True, timeout=min(remaining, 1.0))
    finally:
        if pubsub is not None:
            await pubsub.unsubscribe()
            await pubsub.close()
