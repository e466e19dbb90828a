"""The points shop (积分超市): items with stock and redemption reservations.

Stock is taken with a conditional `$inc` (stock >= 1) that also pushes the reservation
id onto the item's `holds`, so taking and giving back stock are idempotent and a
crashed redemption can be settled by looking at `holds`.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

# Reservation states: reserving -> reserved -> fulfilling -> fulfilled
#                                         \-> voiding -> voided ; reserving -> failed
RESERVING, RESERVED, FULFILLING, FULFILLED = "reserving", "reserved", "fulfilling", "fulfilled"
VOIDING, VOIDED, FAILED = "voiding", "voided", "failed"
STATE_TITLES = {
    RESERVING: "处理中", RESERVED: "待领取", FULFILLING: "核销中", FULFILLED: "已领取",
    VOIDING: "退回中", VOIDED: "已取消（积分已退回）", FAILED: "未成功",
}
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass
class ShopItem:
    id: str
    community: str
    name: str
    points: int
    stock: int
    active: bool = True
    description: str = ""
    held: int = 0

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "ShopItem":
        return cls(
            id=doc["_id"], community=doc["community"], name=doc["name"], points=int(doc["points"]),
            stock=int(doc.get("stock", 0)), active=bool(doc.get("active", True)),
            description=doc.get("description") or "", held=len(doc.get("holds") or []),
        )


@dataclass
class Reservation:
    id: str
    key: str
    code: str
    resident_id: str
    community: str
    item_id: str
    item_name: str
    points: int
    state: str
    created_at: datetime
    expires_at: datetime
    reason: str | None = None
    closed_at: datetime | None = None
    staff_id: str | None = None

    @property
    def state_title(self) -> str:
        return STATE_TITLES.get(self.state, self.state)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Reservation":
        return cls(
            id=doc["_id"], key=doc["key"], code=doc["code"], resident_id=doc["resident_id"],
            community=doc["community"], item_id=doc["item_id"], item_name=doc["item_name"],
            points=int(doc["points"]), state=doc["state"], created_at=doc["created_at"],
            expires_at=doc["expires_at"], reason=doc.get("reason"), closed_at=doc.get("closed_at"),
            staff_id=doc.get("staff_id"),
        )


def pickup_code() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(6))


class ShopRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._items = db["shop_items"]
        self._reservations = db["shop_reservations"]

    async def ensure_indexes(self) -> None:
        await self._items.create_index([("community", ASCENDING), ("points", ASCENDING)], name="community_points")
        await self._reservations.create_indexes([
            IndexModel([("key", ASCENDING)], name="key", unique=True),
            IndexModel([("resident_id", ASCENDING), ("created_at", DESCENDING)], name="resident_recent"),
            IndexModel([("community", ASCENDING), ("state", ASCENDING), ("created_at", DESCENDING)], name="community_state"),
            IndexModel([("state", ASCENDING), ("expires_at", ASCENDING)], name="state_expiry"),
        ])

    # -- items -------------------------------------------------------------------

    async def add_item(self, community: str, name: str, points: int, stock: int,
                       description: str = "", item_id: str | None = None) -> ShopItem:
        doc = {"_id": item_id or str(ObjectId()), "community": community, "name": name, "points": int(points),
               "stock": int(stock), "holds": [], "active": True, "description": description,
               "created_at": datetime.now(timezone.utc)}
        await self._items.insert_one(doc)
        return ShopItem.from_doc(doc)

    async def upsert_seed_item(self, doc: dict[str, Any]) -> None:
        """Insert a demo item unless it exists (never overwrites staff changes)."""
        await self._items.update_one(
            {"_id": doc["_id"]},
            {"$setOnInsert": {**doc, "holds": [], "active": True, "created_at": datetime.now(timezone.utc)}},
            upsert=True,
        )

    async def get_item(self, item_id: str) -> ShopItem | None:
        doc = await self._items.find_one({"_id": str(item_id)})
        return ShopItem.from_doc(doc) if doc else None

    async def list_items(self, scope: dict[str, Any], *, active_only: bool = True) -> list[ShopItem]:
        query = dict(scope)
        if active_only:
            query["active"] = True
        cursor = self._items.find(query).sort([("points", ASCENDING), ("_id", ASCENDING)])
        return [ShopItem.from_doc(doc) async for doc in cursor]

    async def update_item(self, item_id: str, **changes: Any) -> ShopItem | None:
        allowed = {k: v for k, v in changes.items() if k in {"name", "points", "active", "description"}}
        doc = await self._items.find_one_and_update(
            {"_id": str(item_id)}, {"$set": allowed}, return_document=ReturnDocument.AFTER
        ) if allowed else await self._items.find_one({"_id": str(item_id)})
        return ShopItem.from_doc(doc) if doc else None

    async def add_stock(self, item_id: str, count: int) -> ShopItem | None:
        """Restock (or write off with a negative count, never below 0)."""
        query: dict[str, Any] = {"_id": str(item_id)}
        if count < 0:
            query["stock"] = {"$gte": -count}
        doc = await self._items.find_one_and_update(query, {"$inc": {"stock": count}}, return_document=ReturnDocument.AFTER)
        return ShopItem.from_doc(doc) if doc else None

    async def take_stock(self, item_id: str, reservation_id: str, community: str) -> bool:
        """One unit for a reservation; True also when it already holds one."""
        result = await self._items.update_one(
            {"_id": item_id, "community": community, "active": True, "stock": {"$gte": 1},
             "holds": {"$ne": reservation_id}},
            {"$inc": {"stock": -1}, "$push": {"holds": reservation_id}},
        )
        if result.modified_count:
            return True
        return await self.holds(item_id, reservation_id)

    async def holds(self, item_id: str, reservation_id: str) -> bool:
        return await self._items.find_one({"_id": item_id, "holds": reservation_id}, {"_id": 1}) is not None

    async def give_back_stock(self, item_id: str, reservation_id: str) -> bool:
        """Return a held unit to the shelf (void); idempotent."""
        result = await self._items.update_one(
            {"_id": item_id, "holds": reservation_id}, {"$inc": {"stock": 1}, "$pull": {"holds": reservation_id}}
        )
        return bool(result.modified_count)

    async def release_hold(self, item_id: str, reservation_id: str) -> None:
        """The held unit left the shop (handed over); idempotent."""
        await self._items.update_one({"_id": item_id}, {"$pull": {"holds": reservation_id}})

    # -- reservations ------------------------------------------------------------

    async def create_reservation(self, doc: dict[str, Any]) -> tuple[Reservation, bool]:
        """Insert a new reservation; (existing, False) when its key was used before."""
        for _ in range(3):
            doc = {**doc, "code": pickup_code()}
            try:
                await self._reservations.insert_one(doc)
                return Reservation.from_doc(doc), True
            except DuplicateKeyError:
                existing = await self._reservations.find_one({"key": doc["key"]})
                if existing is not None:
                    return Reservation.from_doc(existing), False
        raise RuntimeError("could not create reservation")

    async def get_reservation(self, reservation_id: str) -> Reservation | None:
        doc = await self._reservations.find_one({"_id": str(reservation_id)})
        return Reservation.from_doc(doc) if doc else None

    async def find_by_code(self, code: str, scope: dict[str, Any]) -> Reservation | None:
        doc = await self._reservations.find_one({**scope, "code": code.upper()})
        return Reservation.from_doc(doc) if doc else None

    async def transition(self, reservation_id: str, from_states: list[str], to_state: str,
                         **fields: Any) -> Reservation | None:
        """Move a reservation between states atomically; None when it was not in from_states."""
        update: dict[str, Any] = {"state": to_state, "state_at": datetime.now(timezone.utc), **fields}
        if to_state in (FULFILLED, VOIDED, FAILED):
            update["closed_at"] = datetime.now(timezone.utc)
        doc = await self._reservations.find_one_and_update(
            {"_id": str(reservation_id), "state": {"$in": from_states}}, {"$set": update},
            return_document=ReturnDocument.AFTER,
        )
        return Reservation.from_doc(doc) if doc else None

    async def for_resident(self, resident_id: str, limit: int = 10) -> list[Reservation]:
        """The resident's redemptions, newest first (attempts that failed are left out)."""
        cursor = self._reservations.find({"resident_id": resident_id, "state": {"$ne": FAILED}}).sort(
            "created_at", DESCENDING).limit(limit)
        return [Reservation.from_doc(doc) async for doc in cursor]

    async def list_reservations(self, scope: dict[str, Any], states: list[str] | None = None,
                                limit: int = 100) -> list[Reservation]:
        query = dict(scope)
        if states:
            query["state"] = {"$in": states}
        cursor = self._reservations.find(query).sort("created_at", DESCENDING).limit(limit)
        return [Reservation.from_doc(doc) async for doc in cursor]

    async def stale(self, states: list[str], before: datetime, field: str = "state_at") -> list[Reservation]:
        """Reservations in `states` whose `field` (when they entered the state, or
        `expires_at`) is before `before`."""
        cursor = self._reservations.find({"state": {"$in": states}, field: {"$lt": before}}).limit(500)
        return [Reservation.from_doc(doc) async for doc in cursor]
