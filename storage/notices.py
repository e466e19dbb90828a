"""Stored notices for residents the chat cannot reach by itself (REST, mini-program).

`notices`: {user_key, resident_id, text, ref, created_at, read}; read via GET /api/v1/notices.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bson import ObjectId
from bson.errors import InvalidId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel


@dataclass(frozen=True)
class Notice:
    id: str
    text: str
    ref: str | None
    created_at: datetime
    read: bool

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Notice":
        return cls(str(doc["_id"]), doc["text"], doc.get("ref"), doc["created_at"], bool(doc.get("read")))

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "text": self.text, "ref": self.ref,
                "created_at": self.created_at.isoformat(), "read": self.read}


class NoticeRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["notices"]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes([
            IndexModel([("resident_id", ASCENDING), ("created_at", DESCENDING)], name="resident_recent"),
            IndexModel([("user_key", ASCENDING), ("created_at", DESCENDING)], name="user_recent"),
        ])

    async def add(self, *, user_key: str | None, resident_id: str | None, text: str, ref: str | None,
                  now: datetime) -> str:
        result = await self._col.insert_one({
            "user_key": user_key, "resident_id": resident_id, "text": text, "ref": ref,
            "created_at": now, "read": False,
        })
        return str(result.inserted_id)

    async def for_resident(self, resident_id: str, *, unread_only: bool = False, limit: int = 50) -> list[Notice]:
        query: dict[str, Any] = {"resident_id": resident_id}
        if unread_only:
            query["read"] = False
        docs = await self._col.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)]).limit(limit).to_list(
            limit
        )
        return [Notice.from_doc(d) for d in docs]

    async def mark_read(self, resident_id: str, ids: list[str] | None = None) -> int:
        """Mark some (or all) of a resident's unread notices read."""
        query: dict[str, Any] = {"resident_id": resident_id, "read": False}
        if ids is not None:
            oids = []
            for raw in ids:
                try:
                    oids.append(ObjectId(raw))
                except (InvalidId, TypeError):
                    continue
            query["_id"] = {"$in": oids}
        result = await self._col.update_many(query, {"$set": {"read": True}})
        return result.modified_count
