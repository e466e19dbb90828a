"""Data of the statistics charts (ECharts, vendored under bot/static/vendor/echarts).

One JSON document per period, computed in Python from the scoped records (portable to
MongoDB and secantusdb: no $dateToString time zones, no $percentile):
tickets per day and per category, median / 90th-percentile hours to resolve per department,
satisfaction ratings, bookings filled vs capacity, points earned and redeemed per day.
Days are China dates.
"""
from __future__ import annotations

import math
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from typing import Any

from storage.dashboards import Dashboards

from bot.console.common import to_china
from storage.ledger import ESCROW, ISSUER, SHOP
from storage.routing import CATEGORIES

ECHARTS_VERSION = "6.1.0"


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of the values, rounded to 0.1."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q * len(ordered)))
    return round(ordered[rank - 1], 1)


def china_days(since: datetime, now: datetime) -> list[str]:
    """The China dates from `since` to `now`, as ISO strings."""
    start, end = to_china(since).date(), to_china(now).date()
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


async def chart_data(views: Dashboards, scope: dict[str, Any], since: datetime | None,
                     now: datetime) -> dict[str, Any]:
    reports = await views.reports_for_charts(scope, since)
    first = min((r["created_at"] for r in reports), default=now)
    days = china_days(since or first, now)[-120:]
    per_day = Counter(to_china(r["created_at"]).date().isoformat() for r in reports)
    per_category = Counter(r.get("category") for r in reports)
    hours: dict[str, list[float]] = defaultdict(list)
    for r in reports:
        if r.get("resolved_at"):
            hours[r.get("department") or "未分派"].append((r["resolved_at"] - r["created_at"]).total_seconds() / 3600)
    ratings = Counter(int(r["rating"]["stars"]) for r in reports if isinstance(r.get("rating"), dict)
                      and isinstance(r["rating"].get("stars"), int))
    departments = sorted(hours)
    return {
        "tickets_per_day": {"days": days, "counts": [per_day.get(d, 0) for d in days]},
        "tickets_per_category": [
            {"name": CATEGORIES.get(code, code or "未分类"), "value": n} for code, n in per_category.most_common()
        ],
        "resolve_hours": {
            "departments": departments,
            "median": [percentile(hours[d], 0.5) for d in departments],
            "p90": [percentile(hours[d], 0.9) for d in departments],
        },
        "ratings": {"stars": [f"{s}星" for s in range(1, 6)], "counts": [ratings.get(s, 0) for s in range(1, 6)]},
        "bookings": await _bookings(views, scope, since, now),
        "points": await points_per_day(views, scope, since, now),
    }


async def _bookings(views: Dashboards, scope: dict[str, Any], since: datetime | None,
                    now: datetime) -> dict[str, Any]:
    slots, names = await views.slot_fill(scope, since, now + timedelta(days=14))
    filled: Counter = Counter()
    capacity: Counter = Counter()
    for slot in slots:
        name = names.get(slot.get("service_id"), "其他服务")
        filled[name] += int(slot.get("booked") or 0)
        capacity[name] += int(slot.get("capacity") or 0)
    services = sorted(capacity, key=lambda n: -capacity[n])
    return {"services": services, "filled": [filled[s] for s in services], "capacity": [capacity[s] for s in services]}


async def points_per_day(views: Dashboards, scope: dict[str, Any], since: datetime | None,
                         now: datetime) -> dict[str, Any]:
    """Points earned and redeemed per China day."""
    entries = await views.ledger_entries(scope, since)
    earned: Counter = Counter()
    redeemed: Counter = Counter()
    for e in entries:
        day = to_china(e["created_at"]).date().isoformat()
        amount = int(e.get("amount") or 0)
        if e.get("counter_account") == ISSUER and amount > 0:
            earned[day] += amount
        elif e.get("account") in (SHOP, ESCROW) and amount > 0 and not str(e.get("counter_account", "")).startswith("system:"):
            redeemed[day] += amount
    first = min((e["created_at"] for e in entries), default=now)
    days = china_days(since or first, now)[-120:]
    return {"days": days, "earned": [earned.get(d, 0) for d in days], "redeemed": [redeemed.get(d, 0) for d in days]}
