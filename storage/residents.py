"""Residents: the person behind one or more channel identities.

A resident is created the first time a channel identity (``wechat:<openid>``,
``rest:<sender>``, ``mp:<openid>``) needs a record of its own (a report, a booking).
Collect the minimum (PIPL): community, and only what a capability needs.
"""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.scope import scoped

# The staff's resident list: newest first, ties in id order.
LIST_ORDER = [("created_at", -1), ("_id", 1)]


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
    # Set when the resident deleted their account (PIPL): the record is then a tombstone.
    deleted_at: datetime | None = None
    # What staff checked in person (documents): {"birth_year", "disability", "by", "at"}.
    eligibility_verified: dict[str, Any] | None = None

    @property
    def facts_verified(self) -> bool:
        """Whether the birth year and disability on record are the ones staff verified
        (a resident changing them afterwards makes them unverified again)."""
        seen = self.eligibility_verified
        return bool(seen) and seen.get("birth_year") == self.birth_year and bool(seen.get("disability")) == self.disability

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Resident":
        known = {k: doc.get(k) for k in ("name", "phone", "building", "birth_year", "created_at", "deleted_at")}
        return cls(
            id=str(doc["_id"]),
            user_keys=list(doc.get("user_keys", [])),
            community=doc["community"],
            disability=bool(doc.get("disability", False)),
            eligibility_verified=doc.get("eligibility_verified") or None,
            **known,
        )

    def age(self, today: datetime | None = None) -> int | None:
        if not self.birth_year:
            return None
        return (today or datetime.now(timezone.utc)).year - self.birth_year


def search_query(scope: dict[str, Any], words: list[str], fields: tuple[str, ...]) -> dict[str, Any]:
    """Residents (not erased) within a staff member's `scope` with every one of `words` in
    one of `fields` (as written, not a pattern)."""
    clauses = [{"$or": [{f: {"$regex": re.escape(word)}} for f in fields]} for word in words]
    return scoped({"deleted_at": None, **({"$and": clauses} if clauses else {})}, scope)


def set_or_unset(changes: dict[str, Any], keep: tuple[str, ...] = ()) -> dict[str, Any]:
    """The update writing `changes`: a None value removes the field (those in `keep` stay)."""
    update: dict[str, Any] = {}
    to_set = {k: v for k, v in changes.items() if v is not None}
    to_unset = {k: "" for k, v in changes.items() if v is None and k not in keep}
    if to_set:
        update["$set"] = to_set
    if to_unset:
        update["$unset"] = to_unset
    return update


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
            except DuplicateKeyError:  # a concurrent first message is creating it: retry
                doc = None
            if doc is not None:
                return Resident.from_doc(doc)
            # The server may also answer an upsert that lost that race with no document.
            await asyncio.sleep(0.01 * (attempt + 1))
        raise RuntimeError(f"could not create resident for {key}")

    async def find_by_user_key(self, user_key: str) -> Resident | None:
        doc = await self._col.find_one({"user_keys": str(user_key)})
        return Resident.from_doc(doc) if doc else None

    async def get(self, resident_id: str) -> Resident | None:
        doc = await self._col.find_one({"_id": str(resident_id)})
        return Resident.from_doc(doc) if doc else None

    async def update_profile(self, resident_id: str, **fields: Any) -> Resident | None:
        """Change profile fields; a None value removes the field (community cannot be removed)."""
        allowed = {"name", "phone", "building", "birth_year", "community", "disability"}
        changes = {k: v for k, v in fields.items() if k in allowed}
        update = set_or_unset(changes, keep=("community",))
        if not update:
            return await self.get(resident_id)
        doc = await self._col.find_one_and_update(
            {"_id": str(resident_id)}, update, return_document=ReturnDocument.AFTER
        )
        return Resident.from_doc(doc) if doc else None

    # -- the staff's reads and writes, within their scope (storage/scope.py) ------------------

    async def count_matching(self, scope: dict[str, Any], words: list[str], fields: tuple[str, ...]) -> int:
        """How many residents `search` finds (see `search_query`)."""
        return await self._col.count_documents(search_query(scope, words, fields))

    async def search(self, scope: dict[str, Any], words: list[str], fields: tuple[str, ...], *,
                     skip: int = 0, limit: int = 20) -> list[dict[str, Any]]:
        """The records of the residents `search_query` finds, newest first."""
        cursor = self._col.find(search_query(scope, words, fields)).sort(LIST_ORDER)
        return await cursor.skip(skip).limit(limit).to_list(limit)

    async def document_in_scope(self, resident_id: str, scope: dict[str, Any]) -> dict[str, Any] | None:
        """The record of a resident (not erased) within `scope`; None also outside it."""
        return await self._col.find_one(scoped({"_id": str(resident_id), "deleted_at": None}, scope))

    async def find_in_scope(self, value: str, fields: tuple[str, ...],
                            scope: dict[str, Any]) -> dict[str, Any] | None:
        """The record of a resident (not erased) within `scope` whose `fields` (one of them)
        hold exactly `value` (an id, a phone number)."""
        query = {"$or": [{name: str(value)} for name in fields], "deleted_at": None}
        return await self._col.find_one(scoped(query, scope))

    async def update_contact(self, resident_id: str, scope: dict[str, Any], *, phone: str | None,
                             building: str | None) -> dict[str, Any] | None:
        """Set the phone and building of a resident within `scope` (None removes one); the
        record after, None when there is none in scope."""
        return await self._col.find_one_and_update(
            scoped({"_id": str(resident_id)}, scope), set_or_unset({"phone": phone, "building": building}),
            return_document=ReturnDocument.AFTER,
        )

    async def verify_facts(self, resident_id: str, staff_id: str, now: datetime) -> Resident | None:
        """Staff saw the documents: the birth year and disability on record are verified."""
        doc = await self._col.find_one({"_id": str(resident_id)})
        if doc is None:
            return None
        snapshot = {"birth_year": doc.get("birth_year"), "disability": bool(doc.get("disability", False)),
                    "by": staff_id, "at": now}
        doc = await self._col.find_one_and_update(
            {"_id": str(resident_id), "birth_year": doc.get("birth_year"), "disability": doc.get("disability")},
            {"$set": {"eligibility_verified": snapshot}}, return_document=ReturnDocument.AFTER,
        )
        return Resident.from_doc(doc) if doc else None

    async def document(self, resident_id: str) -> dict[str, Any] | None:
        """The stored record as it is (for the resident's data export)."""
        return await self._col.find_one({"_id": str(resident_id)})

    async def anonymise(self, resident_id: str) -> Resident | None:
        """PIPL erasure: replace the record with a tombstone that keeps only the id,
        the community and the dates, so records pointing at `resident_id` stay valid
        but no longer lead to a person. The channel identities are released: the same
        WeChat user writing again becomes a new resident."""
        doc = await self._col.find_one({"_id": str(resident_id)})
        if doc is None:
            return None
        tombstone = {
            "_id": doc["_id"],
            # user_keys stays unique and non-empty (unique multikey index).
            "user_keys": [f"deleted:{doc['_id']}"],
            "community": doc["community"],
            "created_at": doc.get("created_at"),
            "deleted_at": datetime.now(timezone.utc),
        }
        await self._col.replace_one({"_id": doc["_id"]}, tombstone)
        return Resident.from_doc(tombstone)

    async def link_user_key(self, resident_id: str, user_key: str) -> None:
        """Attach another channel identity (e.g. the mini-program openid) to a resident."""
        await self._col.update_one({"_id": str(resident_id)}, {"$addToSet": {"user_keys": str(user_key)}})
