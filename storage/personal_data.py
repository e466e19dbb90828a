"""A resident's personal data across collections: export and erasure (PIPL rights).

Convention for every capability collection (reports, bookings, loans, points, ...):
- a record that belongs to a resident stores their id in the top-level field
  `resident_id` (index it);
- personal details copied into the record (name, phone, exact address, ...) live in
  a sub-document `contact`, never at the top level.
Collections are discovered at run time, so a new capability is covered without
changes here: export returns every document whose `resident_id` is theirs; erasure
removes `contact` from those documents and marks them `resident_erased: true`, keeping
the records themselves (a ticket keeps its facts and loses the person).
Conversations (keyed by the channel identities in `user_keys`) are deleted outright.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from redis.asyncio import Redis

from storage.audit import COLLECTION as AUDIT, AuditLog
from storage.dialogue_state import KEY as DIALOGUE_KEY
from storage.residents import Resident, ResidentRepository

# Collections that never hold one resident's records (or are handled explicitly).
SKIPPED = {"residents", "conversations", AUDIT, "staff", "communities", "streets"}
MAX_EXPORT_PER_COLLECTION = 10_000


async def resident_collections(db: AsyncIOMotorDatabase) -> list[str]:
    names = await db.list_collection_names()
    return sorted(n for n in names if n not in SKIPPED and not n.startswith("system."))


async def export_resident(db: AsyncIOMotorDatabase, resident: Resident) -> dict[str, Any]:
    """Everything we hold about one resident, as JSON-ready data."""
    profile = await ResidentRepository(db).document(resident.id) or {}
    conversations = await db["conversations"].find(
        {"user_key": {"$in": list(resident.user_keys)}}, {"_id": 0}
    ).sort("received_at", 1).to_list(MAX_EXPORT_PER_COLLECTION)
    records: dict[str, list[dict[str, Any]]] = {}
    for name in await resident_collections(db):
        docs = await db[name].find({"resident_id": resident.id}).to_list(MAX_EXPORT_PER_COLLECTION)
        if docs:
            records[name] = docs
    return {
        "exported_at": datetime.now(timezone.utc),
        "profile": profile,
        "conversations": conversations,
        "records": records,
    }


async def erase_resident(db: AsyncIOMotorDatabase, redis: Redis, resident: Resident) -> dict[str, int]:
    """Delete or anonymise everything about one resident; counts of what changed."""
    summary: dict[str, int] = {}
    keys = list(resident.user_keys)
    deleted = await db["conversations"].delete_many({"user_key": {"$in": keys}})
    summary["conversations"] = deleted.deleted_count
    if keys:
        await redis.delete(*(DIALOGUE_KEY.format(user_key=k) for k in keys))
    for name in await resident_collections(db):
        result = await db[name].update_many(
            {"resident_id": resident.id},
            {"$unset": {"contact": ""}, "$set": {"resident_erased": True}},
        )
        if result.matched_count:
            summary[name] = result.matched_count
    summary[AUDIT] = await AuditLog(db).forget_resident(resident.id)
    await ResidentRepository(db).anonymise(resident.id)
    summary["residents"] = 1
    return summary
