"""Resident links (`resident_links`): who may book for whom (family, volunteers).

Split out of storage/bookings.py, which re-exports LinkRepository and LINK_CODE_MAX_WRONG.
"""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

# Wrong guesses (by anyone) a live proxy-link code survives; then the helper asks for a new one.
LINK_CODE_MAX_WRONG = 20


class LinkRepository:
    """`resident_links`: a helper resident (family or volunteer) may book for an elder
    once the link is confirmed. The helper asks for a link and gets a code; the elder
    confirms it by entering the code (or staff confirm it in the console), which binds
    the elder. Nobody is ever looked up by phone number from the resident side."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["resident_links"]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes([
            IndexModel([("helper_id", ASCENDING), ("elder_id", ASCENDING)], name="confirmed_pair", unique=True,
                       partialFilterExpression={"status": "confirmed"}),
            IndexModel([("code", ASCENDING)], name="pending_code", unique=True,
                       partialFilterExpression={"status": "pending"}),
            IndexModel([("helper_id", ASCENDING), ("status", ASCENDING)], name="helper_status"),
            IndexModel([("elder_id", ASCENDING), ("status", ASCENDING)], name="elder_status"),
            IndexModel([("community", ASCENDING), ("status", ASCENDING)], name="community_status"),
        ])

    async def create_request(self, helper_id: str, relation: str, label: str | None, community: str,
                             expires: datetime, now: datetime) -> dict[str, Any]:
        """A pending request with a fresh 6-digit code for the elder to enter."""
        for _ in range(10):
            doc = {"_id": str(ObjectId()), "helper_id": str(helper_id), "elder_id": None, "relation": relation,
                   "label": label, "community": community, "status": "pending",
                   "code": f"{secrets.randbelow(10**6):06d}", "code_expires_at": expires,
                   "created_at": now, "updated_at": now}
            try:
                await self._col.insert_one(doc)
                return doc
            except DuplicateKeyError:
                continue
        raise RuntimeError("could not allocate a link code")

    async def pending_by_code(self, code: str, now: datetime) -> dict[str, Any] | None:
        """The live request of `code`; a code that has seen `LINK_CODE_MAX_WRONG` wrong
        guesses (anyone's, from any account) no longer works."""
        return await self._col.find_one({
            "status": "pending", "code": str(code), "code_expires_at": {"$gt": now},
            "$or": [{"wrong_guesses": {"$exists": False}}, {"wrong_guesses": {"$lt": LINK_CODE_MAX_WRONG}}],
        })

    async def count_wrong_guess(self, now: datetime) -> None:
        """A wrong code was entered: it counts against every live code, since nobody knows
        which one was being guessed. However many accounts guess, each code survives at most
        LINK_CODE_MAX_WRONG of them (a chance of about 2 in 100,000 per code)."""
        await self._col.update_many(
            {"status": "pending", "code_expires_at": {"$gt": now}}, {"$inc": {"wrong_guesses": 1}}
        )

    async def confirm(self, link_id: str, elder_id: str, now: datetime, confirmed_by: str) -> dict[str, Any] | None:
        """Bind the elder and confirm a pending request. When the pair is already linked,
        the request is closed and the existing link returned. None if not pending."""
        changes = {"status": "confirmed", "elder_id": str(elder_id), "confirmed_at": now,
                   "confirmed_by": confirmed_by, "updated_at": now}
        try:
            return await self._col.find_one_and_update(
                {"_id": str(link_id), "status": "pending"},
                {"$set": changes, "$unset": {"code": "", "code_expires_at": ""}},
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:
            request = await self._col.find_one({"_id": str(link_id)})
            await self._col.update_one({"_id": str(link_id), "status": "pending"},
                                       {"$set": {"status": "merged", "updated_at": now},
                                        "$unset": {"code": "", "code_expires_at": ""}})
            if request is None:
                return None
            return await self._col.find_one(
                {"helper_id": request["helper_id"], "elder_id": str(elder_id), "status": "confirmed"})

    async def create_confirmed(self, helper_id: str, elder_id: str, relation: str, label: str | None,
                               community: str, now: datetime, confirmed_by: str) -> dict[str, Any]:
        """A link staff verified in person (idempotent per pair)."""
        existing = await self._col.find_one({"helper_id": str(helper_id), "elder_id": str(elder_id),
                                             "status": "confirmed"})
        if existing:
            return existing
        doc = {"_id": str(ObjectId()), "helper_id": str(helper_id), "elder_id": str(elder_id), "relation": relation,
               "label": label, "community": community, "status": "confirmed", "confirmed_at": now,
               "confirmed_by": confirmed_by, "created_at": now, "updated_at": now}
        try:
            await self._col.insert_one(doc)
        except DuplicateKeyError:
            return await self._col.find_one({"helper_id": str(helper_id), "elder_id": str(elder_id),
                                             "status": "confirmed"})
        return doc

    async def confirmed_for_helper(self, helper_id: str) -> list[dict[str, Any]]:
        return await self._col.find({"helper_id": str(helper_id), "status": "confirmed"}).sort(
            "confirmed_at", ASCENDING).to_list(20)

    async def is_linked(self, helper_id: str, elder_id: str) -> bool:
        doc = await self._col.find_one({"helper_id": str(helper_id), "elder_id": str(elder_id), "status": "confirmed"})
        return doc is not None

    async def revoke(self, link_id: str, now: datetime, scope: dict[str, Any]) -> dict[str, Any] | None:
        """End a pending or confirmed link matching `scope` (a side of it, or a staff scope)."""
        return await self._col.find_one_and_update(
            {"_id": str(link_id), "status": {"$in": ["pending", "confirmed"]}, **scope},
            {"$set": {"status": "revoked", "updated_at": now}, "$unset": {"code": "", "code_expires_at": ""}},
            return_document=ReturnDocument.AFTER,
        )

    async def for_resident(self, resident_id: str) -> list[dict[str, Any]]:
        query = {"$or": [{"helper_id": str(resident_id)}, {"elder_id": str(resident_id)}],
                 "status": {"$in": ["pending", "confirmed"]}}
        return await self._col.find(query).sort("created_at", DESCENDING).to_list(50)

    async def in_scope(self, scope: dict[str, Any], status: str | None = None) -> list[dict[str, Any]]:
        query = {**scope}
        if status:
            query["status"] = status
        return await self._col.find(query).sort("created_at", DESCENDING).to_list(200)

    async def get(self, link_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": str(link_id)})
