"""Problem reports (报事) in MongoDB: tickets, their status history, followers and ratings.

One document per ticket in `reports`, `_id` being the ticket number (`R20261122-0001`):

    resident_id (the reporter), channel (the one they reported through: notices go back
    there), community, category, department, level
    ("community" or "street" once escalated), location_text, location_key (normalised text),
    location (GeoJSON point, only when known), description, photos [...], status,
    history [{action, status, at, actor {kind, id, name}, note?, reason?, ...}],
    created_at, updated_at, sla_hours, due_at, overdue, escalated_at, resolved_at, closed_at,
    duplicate_of, reason, followers [{resident_id, channel, at, via}], rating {stars, comment, at}.

Residents are referenced by id only (the personal-data convention of storage/personal_data:
export and erasure find the report by its top-level `resident_id`; the channel identity
to notify is looked up when a notice is sent, so an erased resident is never contacted).

Ticket numbers come from one atomic counter per (China) day in `counters`. Every query
that staff trigger takes the scope filter of storage/scope.py (a filter on `community`).
"""
from __future__ import annotations

import asyncio
import statistics
from datetime import datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, GEOSPHERE, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

# The model lives in storage/report_model.py; callers keep importing it from here.
from storage.report_model import (  # noqa: F401  (re-exported)
    ACTIVE_STATUSES, CHINA_TZ, CLOSED, DISPATCHED, DUPLICATE, IN_PROGRESS, LEVEL_COMMUNITY, LEVEL_STREET,
    OPEN_STATUSES, REJECTED, RESOLVED, STATUS_LABELS, STATUSES, SUBMITTED, SYSTEM, Actor, CategoryStats, Report,
    find_ticket, location_key,
)


def board_query(scope: dict[str, Any], *, status: str | None = None, open_only: bool = False,
                category: str | None = None, overdue: bool | None = None,
                extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The board's filter. `extra` adds conditions (search, due before); the scope always holds."""
    query: dict[str, Any] = {**(extra or {}), **scope}
    if extra and scope and set(extra) & set(scope):
        query = {"$and": [extra, dict(scope)]}
    if status:
        query["status"] = status
    elif open_only:
        query["status"] = {"$in": list(OPEN_STATUSES)}
    if category:
        query["category"] = category
    if overdue is not None:
        query["overdue"] = True if overdue else {"$ne": True}
    return query


class ReportRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["reports"]
        self._counters = db["counters"]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes(
            [
                # The version spelled out: secantusdb records it and otherwise refuses the
                # same index at the next start (MongoDB fills in the same default).
                IndexModel([("location", GEOSPHERE)], name="location_2dsphere", **{"2dsphereIndexVersion": 3}),
                IndexModel([("community", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)],
                           name="community_status_recent"),
                IndexModel([("resident_id", ASCENDING), ("created_at", DESCENDING)], name="resident_recent"),
                IndexModel([("followers.resident_id", ASCENDING)], name="followers"),
                IndexModel([("status", ASCENDING), ("due_at", ASCENDING)], name="status_due"),
                IndexModel([("category", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)],
                           name="category_status_recent"),
            ]
        )

    # -- writing ---------------------------------------------------------------

    async def next_ticket(self, now: datetime) -> str:
        """A new ticket number: R + China date + a per-day sequence from an atomic counter.

        Concurrent first upserts of a day can fail (DuplicateKeyError on MongoDB) or, on
        secantusdb, return no document although the counter moved: both are retried, so
        a number may be skipped but never handed out twice."""
        day = now.astimezone(CHINA_TZ).strftime("%Y%m%d")
        for attempt in range(20):
            try:
                doc = await self._counters.find_one_and_update(
                    {"_id": f"report:{day}"}, {"$inc": {"seq": 1}}, upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                doc = None
            if doc is not None:
                return f"R{day}-{int(doc['seq']):04d}"
            await asyncio.sleep(0.005 * (attempt + 1))
        raise RuntimeError(f"could not draw a ticket number for {day}")

    async def insert(self, doc: dict[str, Any]) -> Report:
        """Insert a new ticket (DuplicateKeyError if its number is taken)."""
        await self._col.insert_one(doc)
        return Report.from_doc(doc)

    async def add_follower(self, ticket: str, follower: dict[str, Any], now: datetime) -> Report | None:
        """Link another resident to a ticket (they are told about its changes)."""
        await self._col.update_one(
            {"_id": ticket, "followers.resident_id": {"$ne": follower["resident_id"]},
             "resident_id": {"$ne": follower["resident_id"]}},
            {"$push": {"followers": follower}, "$set": {"updated_at": now}},
        )
        return await self.get(ticket)

    async def transition(
        self,
        ticket: str,
        from_statuses: tuple[str, ...] | list[str],
        entry: dict[str, Any],
        changes: dict[str, Any],
        scope: dict[str, Any] | None = None,
    ) -> Report | None:
        """Atomically apply a change when the ticket is (still) in one of `from_statuses`
        and inside `scope`; None when it is not (moved on, or not visible)."""
        query = {"_id": ticket, "status": {"$in": list(from_statuses)}, **(scope or {})}
        doc = await self._col.find_one_and_update(
            query,
            {"$set": changes, "$push": {"history": entry}},
            return_document=ReturnDocument.AFTER,
        )
        return Report.from_doc(doc) if doc else None

    async def set_rating(self, ticket: str, resident_id: str, rating: dict[str, Any], now: datetime) -> Report | None:
        doc = await self._col.find_one_and_update(
            {"_id": ticket, "resident_id": resident_id, "rating": None},
            {"$set": {"rating": rating, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return Report.from_doc(doc) if doc else None

    async def claim_flag(self, ticket: str, flag: str, now: datetime) -> bool:
        """Set `flag` (a timestamp field) once; True only for the first caller."""
        result = await self._col.update_one({"_id": ticket, flag: None}, {"$set": {flag: now}})
        return result.modified_count == 1

    async def escalate_next(self, now: datetime, entry: dict[str, Any]) -> Report | None:
        """Escalate one open community-level ticket past its due time (atomic claim)."""
        doc = await self._col.find_one_and_update(
            {"status": {"$in": list(OPEN_STATUSES)}, "due_at": {"$lt": now}, "level": LEVEL_COMMUNITY},
            {"$set": {"level": LEVEL_STREET, "overdue": True, "escalated_at": now, "updated_at": now},
             "$push": {"history": entry}},
            sort=[("due_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return Report.from_doc(doc) if doc else None

    async def mark_overdue(self, now: datetime) -> int:
        """Flag open tickets past due that are already at the top level."""
        result = await self._col.update_many(
            {"status": {"$in": list(OPEN_STATUSES)}, "due_at": {"$lt": now}, "overdue": {"$ne": True}},
            {"$set": {"overdue": True, "updated_at": now}},
        )
        return result.modified_count

    # -- reading ---------------------------------------------------------------

    async def get(self, ticket: str, scope: dict[str, Any] | None = None) -> Report | None:
        doc = await self._col.find_one({"_id": str(ticket), **(scope or {})})
        return Report.from_doc(doc) if doc else None

    async def find_open_duplicate(
        self,
        *,
        category: str,
        community: str,
        since: datetime,
        point: dict[str, Any] | None,
        location_key: str,
        radius_m: float,
    ) -> Report | None:
        """An open ticket of the same category in the same community since `since`,
        within `radius_m` of `point` or with the same location text. Never another
        community's: following it would show its details to a resident outside it."""
        base = {"category": category, "community": community, "status": {"$in": list(OPEN_STATUSES)},
                "created_at": {"$gte": since}}
        if point is not None:
            near = {"$near": {"$geometry": point, "$maxDistance": float(radius_m)}}
            docs = await self._col.find({**base, "location": near}).limit(1).to_list(1)
            if docs:
                return Report.from_doc(docs[0])
        if location_key:
            doc = await self._col.find_one(
                {**base, "location_key": location_key}, sort=[("created_at", ASCENDING)]
            )
            if doc:
                return Report.from_doc(doc)
        return None

    async def for_resident(
        self, resident_id: str, statuses: tuple[str, ...] | None = None, limit: int = 20
    ) -> list[Report]:
        """Tickets a resident reported or follows, newest first."""
        query: dict[str, Any] = {
            "$or": [{"resident_id": resident_id}, {"followers.resident_id": resident_id}]
        }
        if statuses:
            query["status"] = {"$in": list(statuses)}
        docs = await self._col.find(query).sort("created_at", DESCENDING).limit(limit).to_list(limit)
        return [Report.from_doc(d) for d in docs]

    async def resolved_before(self, cutoff: datetime, limit: int = 200) -> list[str]:
        docs = await self._col.find(
            {"status": RESOLVED, "resolved_at": {"$lt": cutoff}}, {"_id": 1}
        ).limit(limit).to_list(limit)
        return [d["_id"] for d in docs]

    async def board(
        self,
        scope: dict[str, Any],
        *,
        status: str | None = None,
        open_only: bool = False,
        category: str | None = None,
        overdue: bool | None = None,
        limit: int = 50,
        skip: int = 0,
        extra: dict[str, Any] | None = None,
        sort: list[tuple[str, int]] | None = None,
    ) -> tuple[list[Report], int]:
        """Tickets in a staff member's scope, newest first (or `sort`), and how many match."""
        query = board_query(scope, status=status, open_only=open_only, category=category, overdue=overdue,
                            extra=extra)
        total = await self._col.count_documents(query)
        order = sort or [("created_at", DESCENDING)]
        docs = await self._col.find(query).sort(order).skip(skip).limit(limit).to_list(limit)
        return [Report.from_doc(d) for d in docs], total

    async def stats(self, scope: dict[str, Any], since: datetime | None = None) -> list[CategoryStats]:
        """Tickets per category and the median hours from report to resolution.

        Durations are collected with $push of a scalar expression (no array field
        paths) and the median is taken here, so it runs on MongoDB < 7 and secantusdb."""
        match: dict[str, Any] = dict(scope)
        if since is not None:
            match["created_at"] = {"$gte": since}
        pipeline = [
            {"$match": match},
            {"$project": {
                "category": 1,
                "hours": {"$cond": [
                    {"$gt": ["$resolved_at", None]},
                    {"$divide": [{"$subtract": ["$resolved_at", "$created_at"]}, 3_600_000]},
                    None,
                ]},
            }},
            {"$group": {"_id": "$category", "count": {"$sum": 1}, "hours": {"$push": "$hours"}}},
            {"$sort": {"count": -1, "_id": 1}},
        ]
        result = []
        async for row in self._col.aggregate(pipeline):
            hours = [h for h in row.get("hours", []) if isinstance(h, (int, float))]
            result.append(CategoryStats(
                category=row["_id"],
                count=int(row["count"]),
                resolved=len(hours),
                median_hours=round(statistics.median(hours), 1) if hours else None,
            ))
        return result
