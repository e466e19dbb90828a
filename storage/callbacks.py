"""Callback requests (找人工): a resident asked for a person; community staff call back.

One document per request:
    _id, code (short number told to the resident), resident_id, user_key, channel,
    community, contact {phone, conversation} (PIPL: personal data under `contact`, so
    erasure removes it; conversation: the turns so far, each {at, kind, text, intent,
    replies}), reason ("asked" | "misunderstood"), elder (bool), status ("open" |
    "done"), created_at, updated_at, handled_by {id, name}, handled_at, note.

A resident has at most one open request (unique partial index): asking again refreshes
it (contact, conversation) instead of queueing a second call.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.scope import scoped

COLLECTION = "callbacks"
OPEN, DONE = "open", "done"
STATUS_NAMES = {OPEN: "待回电", DONE: "已处理"}
REASON_NAMES = {"asked": "居民要求", "misunderstood": "机器人没听懂"}


@dataclass
class Callback:
    id: str
    code: str
    resident_id: str
    user_key: str
    channel: str
    community: str
    contact: dict[str, Any]
    reason: str
    status: str
    turns: list[dict[str, Any]] = field(default_factory=list)
    elder: bool = False
    created_at: datetime | None = None
    handled_at: datetime | None = None
    handled_by: dict[str, Any] | None = None
    note: str = ""

    @property
    def phone(self) -> str | None:
        return self.contact.get("phone")

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Callback":
        contact = dict(doc.get("contact") or {})
        return cls(
            id=str(doc["_id"]), code=doc.get("code", ""), resident_id=doc.get("resident_id", ""),
            user_key=doc.get("user_key", ""), channel=doc.get("channel", ""), community=doc.get("community", ""),
            contact={k: v for k, v in contact.items() if k != "conversation"}, reason=doc.get("reason", "asked"),
            status=doc.get("status", OPEN), turns=list(contact.get("conversation") or []),
            elder=bool(doc.get("elder", False)), created_at=doc.get("created_at"),
            handled_at=doc.get("handled_at"), handled_by=doc.get("handled_by"), note=doc.get("note") or "",
        )


def _code(object_id: str) -> str:
    return "RG" + object_id[-6:].upper()


class CallbackRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes([
            IndexModel([("community", ASCENDING), ("status", ASCENDING), ("created_at", DESCENDING)],
                       name="community_status_recent"),
            IndexModel([("resident_id", ASCENDING)], name="one_open_per_resident", unique=True,
                       partialFilterExpression={"status": OPEN}),
        ])

    async def open_request(
        self, *, resident_id: str, user_key: str, channel: str, community: str, phone: str | None,
        reason: str, turns: list[dict[str, Any]], elder: bool,
    ) -> tuple[Callback, bool]:
        """Open a request, or refresh the resident's open one; (request, created)."""
        now = datetime.now(timezone.utc)
        fields = {
            "user_key": user_key, "channel": channel, "community": community,
            "contact": {"phone": phone, "conversation": turns} if phone else {"conversation": turns}, "reason": reason,
            "elder": elder, "updated_at": now,
        }
        for _ in range(3):
            new_id = str(ObjectId())
            try:
                doc = await self._col.find_one_and_update(
                    {"resident_id": resident_id, "status": OPEN},
                    {"$set": fields, "$setOnInsert": {"_id": new_id, "code": _code(new_id), "created_at": now}},
                    upsert=True, return_document=ReturnDocument.AFTER,
                )
                return Callback.from_doc(doc), doc["_id"] == new_id
            except DuplicateKeyError:  # a concurrent request created it: refresh that one
                continue
        raise RuntimeError(f"could not open a callback request for {resident_id}")

    async def get(self, callback_id: str, scope: dict[str, Any]) -> Callback | None:
        doc = await self._col.find_one(scoped({"_id": str(callback_id)}, scope))
        return Callback.from_doc(doc) if doc else None

    async def open_for(self, resident_id: str) -> Callback | None:
        doc = await self._col.find_one({"resident_id": str(resident_id), "status": OPEN})
        return Callback.from_doc(doc) if doc else None

    async def list(self, scope: dict[str, Any], status: str | None = OPEN, limit: int = 200) -> list[Callback]:
        query = {"status": status} if status else {}
        cursor = self._col.find(scoped(query, scope), {"contact.conversation": 0})
        cursor = cursor.sort("created_at", DESCENDING).limit(limit)
        return [Callback.from_doc(doc) for doc in await cursor.to_list(limit)]

    async def count_open(self, scope: dict[str, Any]) -> int:
        return await self._col.count_documents(scoped({"status": OPEN}, scope))

    async def close(self, callback_id: str, scope: dict[str, Any], staff: dict[str, Any], note: str) -> Callback | None:
        """Mark an open request handled; None when it is not open (or not in scope)."""
        now = datetime.now(timezone.utc)
        doc = await self._col.find_one_and_update(
            scoped({"_id": str(callback_id), "status": OPEN}, scope),
            {"$set": {"status": DONE, "handled_at": now, "handled_by": staff, "note": note, "updated_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        return Callback.from_doc(doc) if doc else None
