"""Which records a staff member may read and change: the one place scoping is decided.

Every staff-facing query combines its filter with `staff_scope(db, staff)`, a filter
fragment on the field ``community``:
- grid_worker / community_admin: ``{"community": <their community>}``;
- street_admin: ``{"community": {"$in": [communities of their street]}}``;
- sysadmin: ``{}`` (everything).
Records without a community are therefore visible to sysadmins only. `Scoped` wraps
a collection so a repository cannot forget the scope.
"""
from __future__ import annotations

from typing import Any, Protocol

from motor.motor_asyncio import AsyncIOMotorCollection, AsyncIOMotorDatabase

# The staff roles (storage/staff.py re-exports them): the scope each one sees is decided here.
GRID_WORKER = "grid_worker"
COMMUNITY_ADMIN = "community_admin"
STREET_ADMIN = "street_admin"
SYSADMIN = "sysadmin"


class Member(Protocol):
    """What scoping reads of a staff member (storage.staff.Staff)."""

    role: str
    community: str | None
    street: str | None

FIELD = "community"
_NOTHING = {FIELD: {"$in": []}}


class OutOfScope(PermissionError):
    """A staff member tried to write a record outside their scope."""


async def street_communities(db: AsyncIOMotorDatabase, street: str) -> list[str]:
    cursor = db["communities"].find({"street": street}, {"_id": 1})
    return sorted([doc["_id"] async for doc in cursor])


async def staff_scope(db: AsyncIOMotorDatabase, staff: Member) -> dict[str, Any]:
    """The Mongo filter fragment limiting `staff` to their records."""
    if staff.role == SYSADMIN:
        return {}
    if staff.role in (GRID_WORKER, COMMUNITY_ADMIN):
        return {FIELD: staff.community} if staff.community else dict(_NOTHING)
    if staff.role == STREET_ADMIN and staff.street:
        return {FIELD: {"$in": await street_communities(db, staff.street)}}
    return dict(_NOTHING)


def in_scope(scope: dict[str, Any], community: str | None) -> bool:
    """Whether a record of `community` lies within `scope` (unknown scope shapes: no)."""
    if not scope:
        return True
    if set(scope) != {FIELD} or community is None:
        return False
    rule = scope[FIELD]
    if isinstance(rule, str):
        return community == rule
    if isinstance(rule, dict) and set(rule) == {"$in"}:
        return community in rule["$in"]
    return False


def scoped(query: dict[str, Any] | None, scope: dict[str, Any]) -> dict[str, Any]:
    """`query` restricted to `scope` (both must hold)."""
    query = dict(query or {})
    if not scope:
        return query
    if not query:
        return dict(scope)
    return {"$and": [query, scope]}


class Scoped:
    """A collection as one staff member may see it: every read and write is scoped."""

    def __init__(self, collection: AsyncIOMotorCollection, scope: dict[str, Any]) -> None:
        self.collection = collection
        self.scope = scope

    @classmethod
    async def for_staff(cls, db: AsyncIOMotorDatabase, staff: Member, name: str) -> "Scoped":
        return cls(db[name], await staff_scope(db, staff))

    def find(self, query: dict[str, Any] | None = None, *args: Any, **kwargs: Any):
        return self.collection.find(scoped(query, self.scope), *args, **kwargs)

    async def find_one(self, query: dict[str, Any] | None = None, *args: Any, **kwargs: Any) -> dict | None:
        return await self.collection.find_one(scoped(query, self.scope), *args, **kwargs)

    async def count_documents(self, query: dict[str, Any] | None = None, **kwargs: Any) -> int:
        return await self.collection.count_documents(scoped(query, self.scope), **kwargs)

    async def update_one(self, query: dict[str, Any], update: dict[str, Any], **kwargs: Any):
        self._check_update(update)
        return await self.collection.update_one(scoped(query, self.scope), update, **kwargs)

    async def find_one_and_update(self, query: dict[str, Any], update: dict[str, Any], **kwargs: Any):
        self._check_update(update)
        return await self.collection.find_one_and_update(scoped(query, self.scope), update, **kwargs)

    async def delete_one(self, query: dict[str, Any], **kwargs: Any):
        return await self.collection.delete_one(scoped(query, self.scope), **kwargs)

    async def insert_one(self, doc: dict[str, Any], **kwargs: Any):
        if not in_scope(self.scope, doc.get(FIELD)):
            raise OutOfScope(f"community {doc.get(FIELD)!r} is outside this staff member's scope")
        return await self.collection.insert_one(doc, **kwargs)

    def _check_update(self, update: dict[str, Any]) -> None:
        """Moving a record to another community must stay within the scope too."""
        for op in ("$set", "$setOnInsert"):
            target = (update.get(op) or {}).get(FIELD)
            if target is not None and not in_scope(self.scope, target):
                raise OutOfScope(f"cannot move a record to community {target!r}")
