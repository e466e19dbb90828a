"""Redis connection (redis-py asyncio)."""
from __future__ import annotations

from redis.asyncio import Redis


def connect(url: str) -> Redis:
    return Redis.from_url(
        url, decode_responses=True, socket_connect_timeout=3, socket_timeout=5, health_check_interval=15
    )


async def ping(redis: Redis) -> bool:
    try:
        return bool(await redis.ping())
    except Exception:  # any failure means "not ready"
        return False
