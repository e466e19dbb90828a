"""The audit trail: every staff action, appended and never edited.

One document per action: who (staff id, username, role), what (`action`, e.g.
"staff.create"), which record (`collection`, `record_id`), the record `before` and
`after` the action, when (`at`) and the record's `community` (so admins see the entries
of their scope). Password hashes, tokens and secrets are never stored. The only change
ever made is PIPL erasure: `forget_resident` drops a deleted resident's personal fields
from the snapshots.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import DESCENDING, IndexModel

from storage.scope import scoped
from storage.staff import Staff

COLLECTION = "audit"
_SECRET_WORDS = ("password", "secret", "token", "session_key")
# Personal fields removed from snapshots when a resident is deleted.
PERSONAL_FIELDS = ("name", "phone", "building", "birth_year", "disability", "user_keys", "contact")


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: _redact(v) for k, v in value.items()
            if not any(word in str(k).lower() for word in _SECRET_WORDS)
        }
    if isinstance(value, (list, tuple)):
        return [_redact(v) for v in value]
    return value


def audit_entry(staff: Staff | None, action: str, collection: str, record_id: str | None,
                before: dict[str, Any] | None, after: dict[str, Any] | None, *, community: str | None = None,
                resident_id: str | None = None, ip: str | None = None) -> dict[str, Any]:
    """The stored entry of one action (see `AuditLog.record`), secrets left out."""
    if community is None:
        community = (after or {}).get("community") or (before or {}).get("community")
    if community is None and staff is not None:
        community = staff.community
    entry: dict[str, Any] = {
        "_id": str(ObjectId()),
        "at": datetime.now(timezone.utc),
        "staff_id": staff.id if staff else None,
        "username": staff.username if staff else "system",
        "role": staff.role if staff else "system",
        "action": action,
        "collection": collection,
        "record_id": None if record_id is None else str(record_id),
        "before": _redact(before),
        "after": _redact(after),
        "community": community,
        "street": staff.street if staff else None,
    }
    if resident_id:
        entry["resident_id"] = str(resident_id)
    if ip:
        entry["ip"] = ip
    return entry


def entry_filter(**fields: str | None) -> dict[str, Any]:
    """The entries whose fields (action, collection, record_id, staff_id) are the given ones."""
    return {field: str(value) for field, value in fields.items() if value is not None}


def list_limit(limit: int) -> int:
    """How many entries one listing shows: 1 to 1,000."""
    return max(1, min(limit, 1000))


class AuditLog:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes([
            IndexModel([("community", 1), ("at", DESCENDING)], name="community_recent"),
            IndexModel([("collection", 1), ("record_id", 1), ("at", DESCENDING)], name="record_recent"),
            IndexModel([("staff_id", 1), ("at", DESCENDING)], name="staff_recent"),
            IndexModel([("resident_id", 1)], name="resident", sparse=True),
        ])

    async def record(
        self,
        staff: Staff | None,
        action: str,
        collection: str,
        record_id: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        community: str | None = None,
        resident_id: str | None = None,
        ip: str | None = None,
    ) -> str:
        """Append one entry; `community` defaults to the record's, then the staff member's.
        Pass `resident_id` when the record is about a resident (for erasure)."""
        entry = audit_entry(staff, action, collection, record_id, before, after,
                            community=community, resident_id=resident_id, ip=ip)
        await self._col.insert_one(entry)
        return entry["_id"]

    async def list(
        self,
        scope: dict[str, Any],
        limit: int = 100,
        *,
        action: str | None = None,
        collection: str | None = None,
        record_id: str | None = None,
        staff_id: str | None = None,
    ) -> list[dict[str, Any]]:
        """Newest first, within a staff scope (see storage.scope.staff_scope)."""
        query = entry_filter(action=action, collection=collection, record_id=record_id, staff_id=staff_id)
        cursor = self._col.find(scoped(query, scope)).sort("at", DESCENDING).limit(list_limit(limit))
        return await cursor.to_list(None)

    async def forget_resident(self, resident_id: str) -> int:
        """PIPL erasure: drop the resident's personal fields from the snapshots."""
        unset = {f"{side}.{field}": "" for side in ("before", "after") for field in PERSONAL_FIELDS}
        result = await self._col.update_many({"resident_id": str(resident_id)}, {"$unset": unset})
        return result.modified_count
