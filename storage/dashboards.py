"""The console's read side: scoped projections over several collections for the staff
to-do, the statistics charts, the map and the street screen.

Read only, and deliberately plain queries (the views need a few fields of many records,
not the domain objects); the rules that change records live in the services. Every
method takes the staff member's `scope` (storage.scope.staff_scope) and applies it.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase

from storage.callbacks import OPEN as CALLBACK_OPEN
from storage.reports import OPEN_STATUSES
from storage.scope import scoped
from storage.shop import RESERVED

MAX_DOCS = 20_000  # records one chart or screen reads at most


class Dashboards:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._db = db

    # -- the to-do on the console home ------------------------------------------------------

    async def todo_counts(self, scope: dict[str, Any], *, day_start: datetime, day_end: datetime,
                          due_before: datetime) -> dict[str, int]:
        """Tickets to dispatch / overdue / due today, open callbacks, today's bookings,
        redemptions waiting to be collected."""
        db = self._db
        open_q = {**scope, "status": {"$in": list(OPEN_STATUSES)}}
        return {
            "dispatch": await db["reports"].count_documents({**scope, "status": "submitted"}),
            "overdue": await db["reports"].count_documents({**open_q, "overdue": True}),
            "due_today": await db["reports"].count_documents({**open_q, "due_at": {"$lt": due_before}}),
            "callbacks": await db["callbacks"].count_documents({**scope, "status": CALLBACK_OPEN}),
            "bookings": await db["bookings"].count_documents(
                {**scope, "status": "booked", "kind": {"$ne": "rental"}, "start": {"$gte": day_start, "$lt": day_end}}),
            "redemptions": await db["shop_reservations"].count_documents({**scope, "state": RESERVED}),
        }

    # -- charts ------------------------------------------------------------------------------

    async def reports_for_charts(self, scope: dict[str, Any], since: datetime | None) -> list[dict[str, Any]]:
        match: dict[str, Any] = dict(scope)
        if since is not None:
            match["created_at"] = {"$gte": since}
        return await self._db["reports"].find(match, {
            "created_at": 1, "category": 1, "department": 1, "resolved_at": 1, "rating": 1,
        }).to_list(MAX_DOCS)

    async def slot_fill(self, scope: dict[str, Any], since: datetime | None,
                        until: datetime) -> tuple[list[dict[str, Any]], dict[str, str]]:
        """Booking slots (service, booked, capacity) starting in the period, and service names."""
        query: dict[str, Any] = {**scope, "start": {"$ne": None}}
        if since is not None:
            query["start"] = {"$gte": since, "$lte": until}
        slots = await self._db["booking_slots"].find(
            query, {"service_id": 1, "booked": 1, "capacity": 1}).to_list(MAX_DOCS)
        names = {d["_id"]: d.get("name", d["_id"]) async for d in self._db["booking_services"].find({}, {"name": 1})}
        return slots, names

    async def ledger_entries(self, scope: dict[str, Any], since: datetime | None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {**scope, "state": {"$ne": "rejected"}}
        if since is not None:
            query["created_at"] = {"$gte": since}
        return await self._db["ledger_entries"].find(query, {
            "account": 1, "counter_account": 1, "amount": 1, "created_at": 1,
        }).to_list(MAX_DOCS)

    # -- the map and the street screen ---------------------------------------------------------

    async def located_reports(self, scope: dict[str, Any], since: datetime, limit: int) -> list[dict[str, Any]]:
        """Tickets with coordinates: every open one and those created since `since`, newest first."""
        query = scoped({"location": {"$ne": None}, "$or": [
            {"status": {"$in": list(OPEN_STATUSES)}}, {"created_at": {"$gte": since}},
        ]}, scope)
        return await self._db["reports"].find(query, {
            "status": 1, "category": 1, "community": 1, "location": 1, "overdue": 1, "created_at": 1,
        }).sort("created_at", -1).to_list(limit)

    async def unlocated_open(self, scope: dict[str, Any]) -> int:
        return await self._db["reports"].count_documents(
            scoped({"location": None, "status": {"$in": list(OPEN_STATUSES)}}, scope))

    async def active_stations(self, scope: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        return await self._db["stations"].find(scoped({"active": {"$ne": False}}, scope)).to_list(limit)

    async def reports_for_screen(self, scope: dict[str, Any], since: datetime) -> list[dict[str, Any]]:
        """Open tickets and those created or resolved since `since`."""
        return await self._db["reports"].find(scoped({"$or": [
            {"status": {"$in": list(OPEN_STATUSES)}}, {"created_at": {"$gte": since}}, {"resolved_at": {"$gte": since}},
        ]}, scope), {"status": 1, "community": 1, "overdue": 1, "created_at": 1, "resolved_at": 1, "category": 1}
        ).to_list(MAX_DOCS)
