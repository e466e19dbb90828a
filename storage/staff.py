"""Staff accounts for the console: argon2 password hashes, a role, a community or street.

Roles, from least to most reach:
- grid_worker (网格员): one community, works its records, sees contact details masked;
- community_admin (社区管理员): one community, manages its grid workers;
- street_admin (街道管理员): every community of one street;
- sysadmin (系统管理员): everything.
"""
from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase

from storage.scope import COMMUNITY_ADMIN, GRID_WORKER, STREET_ADMIN, SYSADMIN, scoped

ROLES = (GRID_WORKER, COMMUNITY_ADMIN, STREET_ADMIN, SYSADMIN)
ADMIN_ROLES = (COMMUNITY_ADMIN, STREET_ADMIN, SYSADMIN)
ROLE_NAMES = {
    GRID_WORKER: "网格员",
    COMMUNITY_ADMIN: "社区管理员",
    STREET_ADMIN: "街道管理员",
    SYSADMIN: "系统管理员",
}
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
MIN_PASSWORD_CHARS = 10

# argon2id with OWASP's parameters (19 MiB, 2 passes, 1 lane); hashing runs on a
# thread so the event loop never waits for it.
_hasher = PasswordHasher(time_cost=2, memory_cost=19456, parallelism=1)
# Verified against when the username is unknown, so both cases take as long.
_dummy_hash: str | None = None


class StaffError(ValueError):
    """A staff account that cannot be created as asked (Chinese message for the console)."""


@dataclass(frozen=True)
class Staff:
    id: str
    username: str
    name: str
    role: str
    community: str | None = None
    street: str | None = None
    active: bool = True

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Staff":
        return cls(
            id=str(doc["_id"]),
            username=doc["username"],
            name=doc.get("name") or doc["username"],
            role=doc["role"],
            community=doc.get("community"),
            street=doc.get("street"),
            active=bool(doc.get("active", True)),
        )

    @property
    def role_name(self) -> str:
        return ROLE_NAMES.get(self.role, self.role)

    def public(self) -> dict[str, Any]:
        """The account as shown and audited (never the password hash)."""
        return {
            "id": self.id, "username": self.username, "name": self.name, "role": self.role,
            "community": self.community, "street": self.street, "active": self.active,
        }


def set_hasher(hasher: PasswordHasher) -> None:
    """Use other argon2 parameters (tests use cheap ones); old hashes are upgraded at login."""
    global _hasher, _dummy_hash
    _hasher, _dummy_hash = hasher, None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _verify(stored: str | None, password: str) -> bool:
    global _dummy_hash
    if stored is None:
        _dummy_hash = _dummy_hash or _hasher.hash("linli-no-such-user")
        stored = _dummy_hash
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def normalize_username(username: str) -> str:
    return username.strip().lower()


def new_username(username: str, password: str, role: str) -> str:
    """The normalized username of an account about to be created, once the username, the
    password and the role pass (StaffError with the console's message otherwise)."""
    username = normalize_username(username)
    if not username or len(username) > 32 or not all(c.isalnum() or c in "-_." for c in username):
        raise StaffError("用户名只能包含字母、数字和 - _ .，最长32位")
    if len(password) < MIN_PASSWORD_CHARS:
        raise StaffError(f"密码至少{MIN_PASSWORD_CHARS}位")
    if role not in ROLES:
        raise StaffError("角色不正确")
    return username


async def binding(role: str, community: str | None, street: str | None,
                  find_community: Callable[[str], Awaitable[dict[str, Any] | None]],
                  street_exists: Callable[[str], Awaitable[bool]]) -> tuple[str | None, str | None]:
    """(community, street) an account of this role is bound to: grid workers and community
    admins to a community that exists (and its street), street admins to a street that exists."""
    if role in (GRID_WORKER, COMMUNITY_ADMIN):
        found = await find_community(community) if community else None
        if not found:
            raise StaffError("请选择一个存在的社区")
        return community, found.get("street")
    if role == STREET_ADMIN:
        if not (street and await street_exists(street)):
            raise StaffError("请选择一个存在的街道")
        return None, street
    return None, None


def account_doc(username: str, name: str, role: str, community: str | None, street: str | None,
                password_hash: str) -> dict[str, Any]:
    """The stored record of a new, active account."""
    return {
        "_id": str(ObjectId()),
        "username": username,
        "name": name.strip() or username,
        "role": role,
        "community": community,
        "street": street,
        "active": True,
        "password_hash": password_hash,
        "created_at": datetime.now(timezone.utc),
    }


class StaffRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._db = db
        self._col = db["staff"]

    async def ensure_indexes(self) -> None:
        await self._col.create_index("username", unique=True, name="username")
        await self._col.create_index("community", name="community")

    async def create(
        self,
        username: str,
        password: str,
        *,
        name: str,
        role: str,
        community: str | None = None,
        street: str | None = None,
        password_hash: str | None = None,
    ) -> Staff:
        """A new account; raises StaffError when the role binding or password is wrong.
        `password_hash` (already hashed `password`) saves hashing again when seeding."""
        username = new_username(username, password, role)
        community, street = await binding(role, community, street, self._community, self._street_exists)
        if await self._col.find_one({"username": username}, {"_id": 1}):
            raise StaffError("用户名已存在")
        doc = account_doc(username, name, role, community, street,
                          password_hash or await asyncio.to_thread(hash_password, password))
        await self._col.insert_one(doc)
        return Staff.from_doc(doc)

    async def _community(self, community: str) -> dict[str, Any] | None:
        return await self._db["communities"].find_one({"_id": community})

    async def _street_exists(self, street: str) -> bool:
        return await self._db["streets"].find_one({"_id": street}, {"_id": 1}) is not None

    async def authenticate(self, username: str, password: str) -> Staff | None:
        """The active account with this username and password, else None."""
        doc = await self._col.find_one({"username": normalize_username(username)})
        stored = doc.get("password_hash") if doc else None
        if not await asyncio.to_thread(_verify, stored, password) or stored is None:
            return None
        if not doc.get("active", True):
            return None
        if _hasher.check_needs_rehash(stored):
            new_hash = await asyncio.to_thread(hash_password, password)
            await self._col.update_one({"_id": doc["_id"]}, {"$set": {"password_hash": new_hash}})
        return Staff.from_doc(doc)

    async def get(self, staff_id: str) -> Staff | None:
        doc = await self._col.find_one({"_id": str(staff_id)}, {"password_hash": 0})
        return Staff.from_doc(doc) if doc else None

    async def get_by_username(self, username: str) -> Staff | None:
        doc = await self._col.find_one({"username": normalize_username(username)}, {"password_hash": 0})
        return Staff.from_doc(doc) if doc else None

    async def get_in_scope(self, staff_id: str, scope: dict[str, Any]) -> Staff | None:
        """The account if it lies within a staff scope (see storage.scope.staff_scope), else None."""
        doc = await self._col.find_one(scoped({"_id": str(staff_id)}, scope), {"password_hash": 0})
        return Staff.from_doc(doc) if doc else None

    async def list(self, scope: dict[str, Any], limit: int = 500) -> list[Staff]:
        """Accounts within a staff scope (see storage.scope.staff_scope)."""
        cursor = self._col.find(scoped({}, scope), {"password_hash": 0}).sort("username", 1).limit(limit)
        return [Staff.from_doc(doc) async for doc in cursor]

    async def set_active(self, staff_id: str, active: bool) -> Staff | None:
        await self._col.update_one({"_id": str(staff_id)}, {"$set": {"active": bool(active)}})
        return await self.get(staff_id)

    async def set_password(self, staff_id: str, password: str) -> None:
        if len(password) < MIN_PASSWORD_CHARS:
            raise StaffError(f"密码至少{MIN_PASSWORD_CHARS}位")
        new_hash = await asyncio.to_thread(hash_password, password)
        await self._col.update_one({"_id": str(staff_id)}, {"$set": {"password_hash": new_hash}})


def can_manage(actor: Staff, role: str) -> bool:
    """Whether `actor` may create or change accounts of `role` (within their scope):
    only roles below their own; a sysadmin manages everyone."""
    if actor.role == SYSADMIN:
        return True
    return actor.role in ADMIN_ROLES and ROLE_RANK.get(role, 99) < ROLE_RANK[actor.role]
