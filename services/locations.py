"""Where a WeChat user was a moment ago: the location the 公众号 reports (LOCATION events and
location messages), kept in Redis for a few minutes so "附近哪有驿站" can answer at once.

The WeChat channel writes it (`remember`, `forget` on unsubscribe); handlers read it through
`recent`. Neither touches the Redis key itself.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

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

    async def remember(self, openid: str, latitude: float, longitude: float, label: str | None,
                       precision: float | None = None) -> None:
        value = {"latitude": latitude, "longitude": longitude, "label": label, "precision": precision,
                 "at": datetime.now(timezone.utc).isoformat()}
        await self._redis.set(LASTLOC_KEY.format(openid=openid), json.dumps(value, ensure_ascii=False),
                              ex=LASTLOC_TTL_SECONDS)

    async def forget(self, openid: str) -> None:
        await self._redis.delete(LASTLOC_KEY.format(openid=openid))

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
