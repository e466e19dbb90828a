"""StaffAccounts (services/staff_accounts.py), the staff accounts an admin manages in the
console, on the in-memory fakes: who may create which role where, switching accounts on and
off (and their sessions), lifting login locks, the scope and the audit trail."""
from __future__ import annotations

import pytest

from domain.errors import ForbiddenError, InvalidError, NotFoundError
from services.staff_accounts import NO_ROLE, StaffAccounts
from storage.staff import Staff
from tests.fakes.people import FakeCommunityRepository
from tests.fakes.staff import FakeAuditLog, FakeLoginLock, FakeSessions, FakeStaffRepository

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery"
EVERYWHERE, STREET, IN_A = {}, {"community": {"$in": ["a", "b"]}}, {"community": "a"}


class World:
    def __init__(self) -> None:
        self.places = FakeCommunityRepository()
        for cid, name, street in (("a", "莲花社区", "s1"), ("b", "华富", "s1"), ("c", "竹园", "s2")):
            self.places.add({"_id": cid, "name": name, "street": street})
        for sid, name in (("s1", "华富街道"), ("s2", "香蜜湖街道")):
            self.places.add_street({"_id": sid, "name": name})
        self.staff, self.audit = FakeStaffRepository(self.places), FakeAuditLog()
        self.locks, self.sessions = FakeLoginLock(), FakeSessions()
        self.accounts = StaffAccounts(self.staff, self.places, self.locks, self.sessions, self.audit)

    async def account(self, username: str, role: str, community: str | None = None,
                      street: str | None = None) -> Staff:
        return await self.staff.create(username, PASSWORD, name=username, role=role, community=community,
                                       street=street)

    def actions(self) -> list[str]:
        return [entry["action"] for entry in self.audit.entries]


@pytest.fixture
async def world() -> World:
    made = World()
    made.root = await made.account("root", "sysadmin")
    made.street = await made.account("street", "street_admin", street="s1")
    made.admin_a = await made.account("admin-a", "community_admin", "a")
    made.admin_b = await made.account("admin-b", "community_admin", "b")
    made.grid_a = await made.account("grid-a", "grid_worker", "a")
    made.grid_c = await made.account("grid-c", "grid_worker", "c")
    return made


def form(role: str, community: str = "", street: str = "", username: str = "new", password: str = PASSWORD):
    return {"username": username, "password": password, "name": "新人", "role": role, "community": community,
            "street": street}


async def test_what_each_admin_may_create_and_where(world):
    root = await world.accounts.choices(world.root, EVERYWHERE)
    street = await world.accounts.choices(world.street, STREET)
    admin = await world.accounts.choices(world.admin_a, IN_A)
    assert root.roles == ["grid_worker", "community_admin", "street_admin", "sysadmin"]
    assert root.communities == [("a", "莲花社区"), ("b", "华富"), ("c", "竹园")]
    assert root.streets == [("s1", "华富街道"), ("s2", "香蜜湖街道")]
    assert (street.roles, street.communities, street.streets) == (
        ["grid_worker", "community_admin"], [("a", "莲花社区"), ("b", "华富")], [])
    assert (admin.roles, admin.communities, admin.streets) == (["grid_worker"], [("a", "莲花社区")], [])
    assert StaffAccounts.creatable_roles(world.grid_a) == []


async def test_an_account_made_within_the_actors_reach_is_audited(world):
    made = await world.accounts.create(world.admin_a, IN_A, **form("grid_worker", "a", street="s2"))
    assert (made.username, made.role, made.community, made.street) == ("new", "grid_worker", "a", "s1")
    [entry] = world.audit.entries
    assert (entry["action"], entry["collection"], entry["record_id"], entry["before"]) == (
        "staff.create", "staff", made.id, None)
    assert entry["after"] == made.public() and entry["community"] == "a" and entry["username"] == "admin-a"
    bound = await world.accounts.create(world.root, EVERYWHERE, **form("street_admin", "a", "s2", "li"))
    assert (bound.community, bound.street) == (None, "s2")


@pytest.mark.parametrize("actor, scope, asked", [
    ("admin_a", IN_A, form("community_admin", "a")),  # not below their own role
    ("admin_a", IN_A, form("grid_worker", "b")),  # another community
    ("admin_a", IN_A, form("grid_worker", "")),  # no community: not one of theirs
    ("street", STREET, form("grid_worker", "c")),  # another street's community
    ("street", STREET, form("street_admin", street="s1")),  # street admins: sysadmins only
    ("grid_a", IN_A, form("grid_worker", "a")),
])
async def test_roles_and_places_beyond_the_actor_are_forbidden(world, actor, scope, asked):
    with pytest.raises(ForbiddenError) as refused:
        await world.accounts.create(getattr(world, actor), scope, **asked)
    assert refused.value.status == 403 and refused.value.zh == ""
    assert len(await world.staff.list(EVERYWHERE)) == 6 and world.audit.entries == []


@pytest.mark.parametrize("asked, message", [
    (form(""), NO_ROLE), (form("boss"), NO_ROLE),
    (form("grid_worker", "a", password="short"), "密码至少10位"),
    (form("grid_worker", "a", username="grid-a"), "用户名已存在"),
    (form("grid_worker", ""), "请选择一个存在的社区"),
    (form("street_admin", street="nowhere"), "请选择一个存在的街道"),
])
async def test_a_form_that_cannot_make_an_account_says_why(world, asked, message):
    with pytest.raises(InvalidError) as refused:
        await world.accounts.create(world.root, EVERYWHERE, **asked)
    assert refused.value.status == 400 and message in refused.value.zh
    assert world.audit.entries == [] and len(await world.staff.list(EVERYWHERE)) == 6


async def test_members_of_the_scope_with_their_login_locks(world):
    world.locks.lock("grid-a", "10.0.0.2", 60)
    world.locks.lock("GRID-A", "10.0.0.1", 900)
    members, locks = await world.accounts.members(IN_A)
    assert [m.username for m in members] == ["admin-a", "grid-a"]
    assert [lock.client for lock in locks[world.grid_a.id]] == ["10.0.0.1", "10.0.0.2"]
    assert locks[world.admin_a.id] == []
    members, _ = await world.accounts.members(STREET)
    assert [m.username for m in members] == ["admin-a", "admin-b", "grid-a"]  # street admins: sysadmins only


async def test_switching_off_ends_the_sessions_and_is_audited(world):
    world.sessions.opened(world.grid_a.id)
    after = await world.accounts.set_active(world.admin_a, IN_A, world.grid_a.id, False)
    assert after.active is False and world.sessions.open == {}
    world.sessions.opened(world.grid_a.id)
    assert (await world.accounts.set_active(world.admin_a, IN_A, world.grid_a.id, True)).active
    assert world.sessions.open == {world.grid_a.id: 1}  # switching on ends nothing
    off, on = world.audit.entries
    assert (off["action"], on["action"]) == ("staff.deactivate", "staff.activate")
    assert off["before"]["active"] is True and off["after"] == after.public()
    assert off["record_id"] == on["record_id"] == world.grid_a.id


@pytest.mark.parametrize("actor, scope, target, refusal", [
    ("admin_a", IN_A, "admin_a", ForbiddenError),  # themselves
    ("root", EVERYWHERE, "root", ForbiddenError),
    ("street", STREET, "admin_b", None),
    ("admin_a", IN_A, "admin_b", NotFoundError),  # outside the scope
    ("street", STREET, "grid_c", NotFoundError),
    ("street", STREET, "street", NotFoundError),  # a street admin's own account lies in no community
])
async def test_who_may_switch_an_account(world, actor, scope, target, refusal):
    call = world.accounts.set_active(getattr(world, actor), scope, getattr(world, target).id, False)
    if refusal is None:
        assert (await call).active is False and world.actions() == ["staff.deactivate"]
        return
    with pytest.raises(refusal):
        await call
    assert (await world.staff.get(getattr(world, target).id)).active and world.actions() == []


async def test_unlocking_lifts_every_lock_and_is_audited_with_the_address(world):
    world.locks.lock("grid-a", "10.0.0.1")
    world.locks.lock("grid-a", "10.0.0.2")
    assert await world.accounts.unlock(world.admin_a, IN_A, world.grid_a.id, ip="10.0.0.9") == 2
    assert world.locks.locked == {}
    [entry] = world.audit.entries
    assert (entry["action"], entry["ip"], entry["record_id"]) == ("staff.unlock", "10.0.0.9", world.grid_a.id)
    assert entry["before"] == {"locked_clients": ["10.0.0.1", "10.0.0.2"]}
    assert entry["after"] == {"locked_clients": [], "lifted": 2}


async def test_who_may_unlock_an_account(world):
    world.locks.lock("admin-a", "10.0.0.1")
    with pytest.raises(ForbiddenError):  # not a role below their own
        await world.accounts.unlock(world.admin_a, IN_A, world.admin_a.id)
    with pytest.raises(NotFoundError):
        await world.accounts.unlock(world.admin_b, {"community": "b"}, world.admin_a.id)
    assert world.locks.locked and world.audit.entries == []
    assert await world.accounts.unlock(world.root, EVERYWHERE, world.root.id) == 0  # their own too
    assert await world.accounts.unlock(world.street, STREET, world.admin_a.id) == 1
    assert StaffAccounts.may_unlock(world.root, world.root)
    assert not StaffAccounts.may_set_active(world.root, world.root)
    assert StaffAccounts.may_set_active(world.street, world.grid_a)
