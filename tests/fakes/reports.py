"""In-memory twins of storage/reports.py and storage/routing.py (same methods, same returns).

tests/contract/test_reports_contract.py runs the same behaviour tests against these and
the real repositories, so a service unit test on the fakes tests what production does.
"""
from __future__ import annotations

import statistics
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from storage.reports import (
    CHINA_TZ, LEVEL_COMMUNITY, LEVEL_STREET, OPEN_STATUSES, RESOLVED, CategoryStats, Report, board_query,
)
from storage.routing import CATEGORIES, DEFAULT_ROUTES, Route
from tests.fakes.query import apply_update, distance_m, matches, sort_docs, stored


class FakeReportRepository:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.counters: dict[str, int] = {}

    async def ensure_indexes(self) -> None:
        return None

    def _find(self, query: dict[str, Any], order: list[tuple[str, int]] | None = None) -> list[dict[str, Any]]:
        return sort_docs((d for d in self.docs.values() if matches(d, query)), order)

    def _update_first(self, query: dict[str, Any], update: dict[str, Any],
                      order: list[tuple[str, int]] | None = None) -> Report | None:
        found = self._find(query, order)
        if not found:
            return None
        apply_update(found[0], update)
        return Report.from_doc(stored(found[0]))

    # -- writing ---------------------------------------------------------------

    async def next_ticket(self, now: datetime) -> str:
        day = now.astimezone(CHINA_TZ).strftime("%Y%m%d")
        self.counters[day] = self.counters.get(day, 0) + 1
        return f"R{day}-{self.counters[day]:04d}"

    async def insert(self, doc: dict[str, Any]) -> Report:
        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"E11000 duplicate key _id {doc['_id']}")
        self.docs[doc["_id"]] = stored(doc)
        return Report.from_doc(stored(doc))

    async def add_follower(self, ticket: str, follower: dict[str, Any], now: datetime) -> Report | None:
        self._update_first(
            {"_id": ticket, "followers.resident_id": {"$ne": follower["resident_id"]},
             "resident_id": {"$ne": follower["resident_id"]}},
            {"$push": {"followers": follower}, "$set": {"updated_at": now}},
        )
        return await self.get(ticket)

    async def transition(self, ticket: str, from_statuses: tuple[str, ...] | list[str], entry: dict[str, Any],
                         changes: dict[str, Any], scope: dict[str, Any] | None = None) -> Report | None:
        query = {"_id": ticket, "status": {"$in": list(from_statuses)}, **(scope or {})}
        return self._update_first(query, {"$set": changes, "$push": {"history": entry}})

    async def set_rating(self, ticket: str, resident_id: str, rating: dict[str, Any], now: datetime) -> Report | None:
        return self._update_first({"_id": ticket, "resident_id": resident_id, "rating": None},
                                  {"$set": {"rating": rating, "updated_at": now}})

    async def claim_flag(self, ticket: str, flag: str, now: datetime) -> bool:
        return self._update_first({"_id": ticket, flag: None}, {"$set": {flag: now}}) is not None

    async def escalate_next(self, now: datetime, entry: dict[str, Any]) -> Report | None:
        return self._update_first(
            {"status": {"$in": list(OPEN_STATUSES)}, "due_at": {"$lt": now}, "level": LEVEL_COMMUNITY},
            {"$set": {"level": LEVEL_STREET, "overdue": True, "escalated_at": now, "updated_at": now},
             "$push": {"history": entry}},
            order=[("due_at", 1)],
        )

    async def mark_overdue(self, now: datetime) -> int:
        found = self._find({"status": {"$in": list(OPEN_STATUSES)}, "due_at": {"$lt": now},
                            "overdue": {"$ne": True}})
        for doc in found:
            apply_update(doc, {"$set": {"overdue": True, "updated_at": now}})
        return len(found)

    # -- reading ---------------------------------------------------------------

    async def get(self, ticket: str, scope: dict[str, Any] | None = None) -> Report | None:
        found = self._find({"_id": str(ticket), **(scope or {})})
        return Report.from_doc(stored(found[0])) if found else None

    async def find_open_duplicate(self, *, category: str, community: str, since: datetime,
                                  point: dict[str, Any] | None, location_key: str, radius_m: float) -> Report | None:
        base = {"category": category, "community": community, "status": {"$in": list(OPEN_STATUSES)},
                "created_at": {"$gte": since}}
        candidates = self._find(base)
        if point is not None:
            near = sorted(
                ((distance_m(point["coordinates"], d["location"]["coordinates"]), d)
                 for d in candidates if d.get("location")),
                key=lambda pair: pair[0],
            )
            near = [d for dist, d in near if dist <= float(radius_m)]
            if near:
                return Report.from_doc(stored(near[0]))
        if location_key:
            same = sort_docs((d for d in candidates if d.get("location_key") == location_key), [("created_at", 1)])
            if same:
                return Report.from_doc(stored(same[0]))
        return None

    async def for_resident(self, resident_id: str, statuses: tuple[str, ...] | None = None,
                           limit: int = 20) -> list[Report]:
        query: dict[str, Any] = {"$or": [{"resident_id": resident_id}, {"followers.resident_id": resident_id}]}
        if statuses:
            query["status"] = {"$in": list(statuses)}
        return [Report.from_doc(stored(d)) for d in self._find(query, [("created_at", -1)])[:limit]]

    async def resolved_before(self, cutoff: datetime, limit: int = 200) -> list[str]:
        return [d["_id"] for d in self._find({"status": RESOLVED, "resolved_at": {"$lt": cutoff}})[:limit]]

    async def board(self, scope: dict[str, Any], *, status: str | None = None, open_only: bool = False,
                    category: str | None = None, overdue: bool | None = None, limit: int = 50, skip: int = 0,
                    extra: dict[str, Any] | None = None,
                    sort: list[tuple[str, int]] | None = None) -> tuple[list[Report], int]:
        query = board_query(scope, status=status, open_only=open_only, category=category, overdue=overdue,
                            extra=extra)
        found = self._find(query, sort or [("created_at", -1)])
        return [Report.from_doc(stored(d)) for d in found[skip:skip + limit]], len(found)

    async def stats(self, scope: dict[str, Any], since: datetime | None = None) -> list[CategoryStats]:
        match: dict[str, Any] = dict(scope)
        if since is not None:
            match["created_at"] = {"$gte": since}
        groups: dict[str, list[float | None]] = {}
        for doc in self._find(match):
            resolved = doc.get("resolved_at")
            hours = (resolved - doc["created_at"]).total_seconds() / 3600 if resolved else None
            groups.setdefault(doc.get("category"), []).append(hours)
        rows = sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        result = []
        for category, values in rows:
            hours = [h for h in values if h is not None]
            result.append(CategoryStats(category=category, count=len(values), resolved=len(hours),
                                        median_hours=round(statistics.median(hours), 1) if hours else None))
        return result


class FakeRoutingRepository:
    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}

    async def get(self, category: str) -> Route:
        return self.routes.get(str(category)) or DEFAULT_ROUTES.get(category, DEFAULT_ROUTES["other"])

    async def all(self) -> list[Route]:
        return [self.routes.get(category, DEFAULT_ROUTES[category]) for category in CATEGORIES]

    async def set(self, category: str, department: str, sla_hours: int) -> Route:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        if sla_hours <= 0:
            raise ValueError("sla_hours must be positive")
        self.routes[category] = Route(category, department, int(sla_hours))
        return self.routes[category]
