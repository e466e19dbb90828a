"""The one time zone residents and staff live in."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def local(dt: datetime) -> datetime:
    """`dt` in Asia/Shanghai; a naive value is taken as UTC (as Mongo returns it)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(TZ)
