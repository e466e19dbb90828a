"""Residents: the person behind one or more channel identities.

A resident is created the first time a channel identity (``wechat:<openid>``,
``rest:<sender>``, ``mp:<openid>``) needs a record of its own (a report, a booking).
Collect the minimum (PIPL): community, and only what a capability needs.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError


@dataclass
class Resident:
    id: str
    user_keys: list[str]
    community: str
    name: str | None = None
    phone: str | None = None
    building: str | None = None
    birth_year: int | None = None
    disability: bool = False
    created_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Resident":
        known = {k: doc.get(k) for k in ("name", "phone", "building", "birth_year", "created_at")}
        return cls(
            id=str(doc["_id"]),
            user_keys=list(doc.get("user_keys", [])),
            community=doc["community"],
            disability=bool(doc.get("disability", False)),
            **known,
        )

    def age(self, today: datetime | None = None) -> int | None:
        if not self.birth_year:
            return None
        return (today or datetime.now(timezone.utc)).year - self.birth_year


class ResidentRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["residents"]

    async def ensure_indexes(self) -> None:
        await self._col.create_index("user_keys", unique=True, name="user_keys")
        await self._col.create_index("community", name="community")

    async def for_user_key(self, user_key: str, default_community: str) -> Resident:
        """The resident behind a channel identity, created on first need."""
        key = str(user_key)
        # $elemMatch keeps the query out of the inserted document, so user_keys is an array.
        query = {"user_keys": {"$elemMatch": {"$eq": key}}}
        insert = {"_id": str(ObjectId()), "user_keys": [key], "community": default_community,
                  "created_at": datetime.now(timezone.utc)}
        for attempt in range(5):
            try:
                doc = await self._col.find_one_and_update(
                    query, {"$setOnInsert": insert}, upsert=True, return_document=ReturnDocument.AFTER
                )
                return Resident.from_doc(doc)
            except DuplicateKeyError:  # a concurrent first message is creating it: retry
                await asyncio.sleep(0.01 * (attempt + 1))
        raise RuntimeError(f"could not create resident for {key}")

    async def find_by_user_key(self, user_key: str) -> Resident | None:
        doc = await self._col.find_one({"user_keys": str(user_key)})
        return Resident.from_doc(doc) if doc else None

    async def get(self, resident_id: str) -> Resident | None:
        doc = await self._col.find_one({"_id": str(resident_id)})
        return Resident.from_doc(doc) if doc else None

    async def update_profile(self, resident_id: str, **fields: Any) -> Resident | None:
        allowed = {"name", "phone", "building", "birth_year", "community", "disability"}
        changes = {k: v for k, v in fields.items() if k in allowed}
        if not changes:
            return await self.get(resident_id)
        doc = await self._col.find_one_and_update(
            {"_id": str(resident_id)}, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return Resident.from_doc(doc) if doc else None

    async def link_user_key(self, resident_id: str, user_key: str) -> None:
        """Attach another channel identity (e.g. the mini-program openid) to a resident."""
        await self._col.update_one({"_id": str(resident_id)}, {"$addToSet": {"user_keys": str(user_key)}})
