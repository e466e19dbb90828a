"""Whether a user wants elder mode: chosen ("on"/"off", a year) or read from the profile ("on"/"no", a day).

Keyed by the channel's user key; listed in storage/pii_registry.py so export and erasure cover it.
"""
from __future__ import annotations

from redis.asyncio import Redis

PREF_KEY = "linli:elder:{user_key}"
CHOSEN_TTL = 365 * 86400  # the user said on / off
PROFILE_TTL = 86400  # looked at the profile: look again tomorrow


class ElderPreferences:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def get(self, user_key: str) -> str | None:
        value = await self._redis.get(PREF_KEY.format(user_key=user_key))
        return value.decode() if isinstance(value, bytes) else value

    async def chosen(self, user_key: str, on: bool) -> None:
        await self._redis.set(PREF_KEY.format(user_key=user_key), "on" if on else "off", ex=CHOSEN_TTL)

    async def from_profile(self, user_key: str, on: bool) -> None:
        await self._redis.set(PREF_KEY.format(user_key=user_key), "on" if on else "no", ex=PROFILE_TTL)
