"""Where a WeChat user was a moment ago: the location the 公众号 reports (LOCATION events and
location messages), kept in Redis for a few minutes so "附近哪有驿站" can answer at once.

The WeChat channel writes it; handlers read it through `RecentLocations.recent` and never
touch Redis themselves.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from redis.asyncio import Redis

LASTLOC_KEY = "linli:lastloc:wechat:{openid}"
LASTLOC_TTL_SECONDS = 15 * 60


@dataclass(frozen=True)
class RecentLocation:
    latitude: float
    longitude: float
    label: str | None


class RecentLocations:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def recent(self, openid: str) -> RecentLocation | None:
        """The location WeChat reported for `openid` in the last minutes, if any."""
        raw = await self._redis.get(LASTLOC_KEY.format(openid=openid))
        try:
            data = json.loads(raw) if raw else None
            if not data:
                return None
            return RecentLocation(float(data["latitude"]), float(data["longitude"]), data.get("label"))
        except (ValueError, KeyError, TypeError):
            return None
