"""Limits on points earned by rules, against farming (two accounts helping each other in a loop).

- Pair: an award that names a counterpart (`help.completed`: the requester) is given at
  most once a day for the same two residents, whichever helped whom.
- Daily cap per rule and resident: rule points earned automatically in one China day stop
  at the rule's `daily_cap`; an award above it is held in `points_reviews` for staff, who
  approve (credited then) or reject it in the console.

Both are single conditional writes (a unique `_id`, a conditional `$inc`), so concurrent
events cannot slip past them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

PAIRS = "points_pairs"
DAILY = "points_daily"
REVIEWS = "points_reviews"
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
COUNTER_TTL_SECONDS = 3 * 86400


@dataclass
class Review:
    id: str
    key: str
    topic: str
    ref: str
    resident_id: str
    community: str | None
    points: int
    title: str
    reason: str
    state: str
    created_at: datetime
    decided_by: str | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Review":
        return cls(id=doc["_id"], key=doc["key"], topic=doc["topic"], ref=doc["ref"], resident_id=doc["resident_id"],
                   community=doc.get("community"), points=int(doc["points"]), title=doc.get("title") or doc["topic"],
                   reason=doc.get("reason") or "", state=doc["state"], created_at=doc["created_at"],
                   decided_by=doc.get("decided_by"))


class PointsLimits:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._pairs = db[PAIRS]
        self._daily = db[DAILY]
        self._reviews = db[REVIEWS]

    async def ensure_indexes(self) -> None:
        # Day counters are only needed for their day: swept after a few days (TTL).
        for col in (self._pairs, self._daily):
            await col.create_index([("at", ASCENDING)], expireAfterSeconds=COUNTER_TTL_SECONDS)
        await self._reviews.create_indexes([
            IndexModel([("key", ASCENDING)], unique=True),
            IndexModel([("state", ASCENDING), ("community", ASCENDING), ("created_at", ASCENDING)]),
        ])

    async def take_pair(self, topic: str, day: str, one: str, other: str) -> bool:
        """True the first time today for these two residents (in either order)."""
        low, high = sorted((str(one), str(other)))
        try:
            await self._pairs.insert_one({"_id": f"{topic}:{day}:{low}:{high}", "at": datetime.now(timezone.utc)})
        except DuplicateKeyError:
            return False
        return True

    async def give_back_pair(self, topic: str, day: str, one: str, other: str) -> None:
        low, high = sorted((str(one), str(other)))
        await self._pairs.delete_one({"_id": f"{topic}:{day}:{low}:{high}"})

    async def take_daily(self, resident_id: str, topic: str, day: str, points: int, cap: int) -> bool:
        """Count `points` toward today's cap; False (nothing counted) when it would pass it."""
        key = f"{resident_id}:{day}:{topic}"
        try:
            await self._daily.update_one(
                {"_id": key}, {"$setOnInsert": {"points": 0, "at": datetime.now(timezone.utc)}}, upsert=True
            )
        except DuplicateKeyError:  # a concurrent upsert created it
            pass
        done = await self._daily.update_one({"_id": key, "points": {"$lte": cap - points}}, {"$inc": {"points": points}})
        return done.modified_count == 1

    async def hold(self, *, key: str, topic: str, ref: str, resident_id: str, community: str | None, points: int,
                   title: str, reason: str) -> Review:
        doc = {"_id": str(ObjectId()), "key": key, "topic": topic, "ref": ref, "resident_id": resident_id,
               "community": community, "points": points, "title": title, "reason": reason, "state": PENDING,
               "created_at": datetime.now(timezone.utc)}
        try:
            await self._reviews.insert_one(doc)
        except DuplicateKeyError:
            doc = await self._reviews.find_one({"key": key})
        return Review.from_doc(doc)

    async def get_review(self, review_id: str) -> Review | None:
        doc = await self._reviews.find_one({"_id": str(review_id)})
        return Review.from_doc(doc) if doc else None

    async def pending_reviews(self, scope: dict[str, Any], limit: int = 100) -> list[Review]:
        cursor = self._reviews.find({**scope, "state": PENDING}).sort("created_at", ASCENDING).limit(limit)
        return [Review.from_doc(doc) async for doc in cursor]

    async def decide(self, review_id: str, state: str, staff_id: str) -> Review | None:
        """Move a pending review to approved / rejected once (None: not pending any more)."""
        doc = await self._reviews.find_one_and_update(
            {"_id": str(review_id), "state": PENDING},
            {"$set": {"state": state, "decided_by": staff_id, "decided_at": datetime.now(timezone.utc)}},
            return_document=ReturnDocument.AFTER,
        )
        return Review.from_doc(doc) if doc else None
