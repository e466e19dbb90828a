"""What services/staff_accounts.py's StaffAccounts is given, in memory: twins of
storage/staff.py's StaffRepository (accounts, not passwords: no login) and storage/audit.py's
AuditLog, proven by tests/contract/test_desk_contract.py; and stand-ins for the Redis ones,
storage/login_lock.py's StaffLoginLock (the locks staff see and lift) and the console's
storage/sessions.py SessionStore (sessions ended by owner)."""
from __future__ import annotations

from typing import Any

from storage.audit import audit_entry, entry_filter, list_limit
from storage.login_lock import ActiveLock
from storage.scope import scoped
from storage.staff import Staff, StaffError, account_doc, binding, new_username
from tests.fakes.people import FakeCommunityRepository
from tests.fakes.query import FakeCollection, stored


class FakeStaffRepository:
    """Accounts bound to the communities and streets of `places`."""

    def __init__(self, places: FakeCommunityRepository | None = None) -> None:
        self.col = FakeCollection({"username": (("username",), None)})
        self.places = places if places is not None else FakeCommunityRepository()

    async def ensure_indexes(self) -> None:
        return None

    async def _community(self, community: str) -> dict[str, Any] | None:
        return stored(self.places.docs.get(community))

    async def _street_exists(self, street: str) -> bool:
        return street in self.places.streets

    async def create(self, username: str, password: str, *, name: str, role: str,
                     community: str | None = None, street: str | None = None,
                     password_hash: str | None = None) -> Staff:
        username = new_username(username, password, role)
        community, street = await binding(role, community, street, self._community, self._street_exists)
        if self.col.find_one({"username": username}) is not None:
            raise StaffError("用户名已存在")
        doc = account_doc(username, name, role, community, street, password_hash or f"unhashed:{password}")
        self.col.insert_one(doc)
        return Staff.from_doc(doc)

    def _one(self, query: dict[str, Any]) -> Staff | None:
        doc = self.col.find_one(query)
        return Staff.from_doc(doc) if doc else None

    async def get(self, staff_id: str) -> Staff | None:
        return self._one({"_id": str(staff_id)})

    async def get_in_scope(self, staff_id: str, scope: dict[str, Any]) -> Staff | None:
        return self._one(scoped({"_id": str(staff_id)}, scope))

    async def list(self, scope: dict[str, Any], limit: int = 500) -> list[Staff]:
        return [Staff.from_doc(doc) for doc in self.col.find(scoped({}, scope), [("username", 1)], limit)]

    async def set_active(self, staff_id: str, active: bool) -> Staff | None:
        self.col.update_one({"_id": str(staff_id)}, {"$set": {"active": bool(active)}})
        return await self.get(staff_id)


class FakeAuditLog:
    def __init__(self) -> None:
        self.col = FakeCollection()

    async def ensure_indexes(self) -> None:
        return None

    async def record(self, staff: Staff | None, action: str, collection: str, record_id: str | None,
                     before: dict[str, Any] | None, after: dict[str, Any] | None, **where: Any) -> str:
        entry = audit_entry(staff, action, collection, record_id, before, after, **where)
        self.col.insert_one(entry)
        return entry["_id"]

    async def list(self, scope: dict[str, Any], limit: int = 100,
                   **fields: str | None) -> list[dict[str, Any]]:
        return self.col.find(scoped(entry_filter(**fields), scope), [("at", -1)], list_limit(limit))

    @property
    def entries(self) -> list[dict[str, Any]]:
        """Every entry, in the order recorded."""
        return [stored(doc) for doc in self.col.docs.values()]


class FakeLoginLock:
    """username -> client -> seconds the lock still lasts."""

    def __init__(self) -> None:
        self.locked: dict[str, dict[str, int]] = {}

    def lock(self, username: str, client: str, seconds: int = 900) -> None:
        self.locked.setdefault(username.lower(), {})[client] = seconds

    async def locks_of(self, username: str) -> list[ActiveLock]:
        held = self.locked.get(username.lower(), {})
        return [ActiveLock(client, seconds) for client, seconds in sorted(held.items())]

    async def unlock_user(self, username: str) -> int:
        return len(self.locked.pop(username.lower(), {}))


class FakeSessions:
    """owner -> how many sessions they have open."""

    def __init__(self) -> None:
        self.open: dict[str, int] = {}

    def opened(self, owner: str) -> None:
        self.open[owner] = self.open.get(owner, 0) + 1

    async def revoke_owner(self, owner: str) -> int:
        return self.open.pop(owner, 0)
