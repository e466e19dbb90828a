"""Contract of what the console's services (services/resident_desk.py, services/staff_accounts.py)
are given: ResidentRepository's scoped reads and contact corrections, BookingRepository's
verified mark, StaffRepository's accounts, AuditLog, CommunityRepository's place names. The real
ones and the fakes agree."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from storage.audit import AuditLog
from storage.bookings import BookingRepository
from storage.communities import CommunityRepository
from storage.residents import ResidentRepository
from storage.staff import StaffError, StaffRepository
from tests.contract import repository
from tests.fakes.bookings import FakeBookingRepository
from tests.fakes.people import FakeCommunityRepository, FakeResidentRepository
from tests.fakes.query import stored
from tests.fakes.staff import FakeAuditLog, FakeStaffRepository

pytestmark = pytest.mark.contract

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)
NAMES, CONTACT = ("name", "_id"), ("name", "_id", "phone", "building")
IN_A, STREET = {"community": "a"}, {"community": {"$in": ["a", "b"]}}
PASSWORD = "correct horse battery"


def person(rid: str, community: str, minutes: int, **fields) -> dict:
    return {"_id": rid, "user_keys": [f"rest:{rid}"], "community": community,
            "created_at": T0 + timedelta(minutes=minutes), **fields}


RESIDENT_DOCS = [
    person("r1", "a", 0, name="王阿姨", phone="13800000001", building="3栋501"),
    person("r2", "a", 1, name="王大爷", phone="13800000002", building="5栋201"),
    person("r3", "b", 2, name="李奶奶", phone="13900000003"),
    person("r4", "a", 3, name="张三(楼长)"),
    person("r5", "a", 4, deleted_at=T0),  # erased: a tombstone
]
PLACES = [{"_id": "a", "name": "莲花社区", "street": "s1"}, {"_id": "b", "name": "华富", "street": "s1"},
          {"_id": "c", "street": "s2"}]
STREETS = [{"_id": "s1", "name": "华富街道"}, {"_id": "s2"}]


@pytest.fixture
async def residents(make):
    repo, db = make(lambda db: (ResidentRepository(db), db), lambda: (FakeResidentRepository(), None))
    await repo.ensure_indexes()
    if db is not None:
        await db.residents.insert_many([dict(doc) for doc in RESIDENT_DOCS])
    else:
        repo.docs.update({doc["_id"]: stored(doc) for doc in RESIDENT_DOCS})
    return repo


@pytest.fixture
async def places(make):
    """(communities, staff accounts) on the same places: seeded through the database (the
    repositories write none) or the fake's `add` / `add_street`."""
    def fake():
        communities = FakeCommunityRepository()
        return communities, FakeStaffRepository(communities)

    communities, staff, db = make(lambda db: (CommunityRepository(db), StaffRepository(db), db),
                                  lambda: (*fake(), None))
    await staff.ensure_indexes()
    if db is not None:
        await db.communities.insert_many([dict(doc) for doc in PLACES])
        await db.streets.insert_many([dict(doc) for doc in STREETS])
    else:
        for doc in PLACES:
            communities.add(doc)
        for doc in STREETS:
            communities.add_street(doc)
    return communities, staff


bookings = repository(BookingRepository, FakeBookingRepository)
audit = repository(AuditLog, FakeAuditLog)


def ids(docs: list[dict]) -> list[str]:
    return [doc["_id"] for doc in docs]


async def test_staff_find_residents_of_their_scope_newest_first(residents):
    assert await residents.count_matching(IN_A, [], NAMES) == 3  # not r3 (community b), not the erased r5
    assert ids(await residents.search(IN_A, [], NAMES)) == ["r4", "r2", "r1"]
    assert ids(await residents.search({}, [], NAMES, skip=1, limit=2)) == ["r3", "r2"]
    assert ids(await residents.search(STREET, ["奶奶"], NAMES)) == ["r3"]
    assert await residents.search(IN_A, ["奶奶"], NAMES) == []


async def test_every_word_counts_in_the_fields_given_as_written(residents):
    assert ids(await residents.search(IN_A, ["王"], NAMES)) == ["r2", "r1"]
    assert await residents.search(IN_A, ["1380000"], NAMES) == []  # contact fields only when given
    assert ids(await residents.search(IN_A, ["1380000"], CONTACT)) == ["r2", "r1"]
    assert ids(await residents.search(IN_A, ["王", "5栋"], CONTACT)) == ["r2"]
    assert await residents.count_matching(IN_A, ["王", "5栋"], CONTACT) == 1
    assert ids(await residents.search(IN_A, ["(楼长)"], NAMES)) == ["r4"]  # not a pattern
    assert ids(await residents.search(IN_A, ["r2"], NAMES)) == ["r2"]  # the resident id


async def test_one_record_within_the_scope(residents):
    assert (await residents.document_in_scope("r1", IN_A))["name"] == "王阿姨"
    assert (await residents.document_in_scope("r3", STREET))["community"] == "b"
    assert await residents.document_in_scope("r3", IN_A) is None
    assert await residents.document_in_scope("r5", {}) is None  # erased
    assert await residents.document_in_scope("nobody", {}) is None


async def test_one_record_by_id_or_phone_within_the_scope(residents):
    assert (await residents.find_in_scope("r2", ("_id", "phone"), IN_A))["name"] == "王大爷"
    assert (await residents.find_in_scope("13800000001", ("_id", "phone"), IN_A))["_id"] == "r1"
    assert await residents.find_in_scope("13800000001", ("_id",), IN_A) is None  # not looked for by phone
    assert await residents.find_in_scope("13900000003", ("phone",), IN_A) is None  # outside the scope
    assert (await residents.find_in_scope("13900000003", ("phone",), STREET))["_id"] == "r3"
    assert await residents.find_in_scope("r5", ("_id",), {}) is None  # erased


async def test_contact_corrections_within_the_scope(residents):
    after = await residents.update_contact("r1", IN_A, phone="13900001111", building=None)
    assert after["phone"] == "13900001111" and "building" not in after and after["name"] == "王阿姨"
    kept = await residents.document("r1")
    assert kept["phone"] == "13900001111" and "building" not in kept
    assert (await residents.update_contact("r1", IN_A, phone=None, building="6栋"))["building"] == "6栋"
    assert "phone" not in await residents.document("r1")
    assert await residents.update_contact("r3", IN_A, phone="13900002222", building=None) is None
    assert (await residents.document("r3"))["phone"] == "13900000003"


async def test_verified_facts_clear_the_residents_unverified_bookings(bookings):
    for n, (resident, verified) in enumerate([("r1", False), ("r1", False), ("r1", None), ("r2", False)]):
        await bookings.insert({"slot_id": f"s{n}", "resident_id": resident, "status": "booked", "start": T0,
                               "created_at": T0, "eligibility_verified": verified})
    assert await bookings.mark_eligibility_verified("r1") == 2
    marks = {(b["slot_id"], b["resident_id"]): b["eligibility_verified"]
             for b in await bookings.active_for_resident("r1") + await bookings.active_for_resident("r2")}
    assert marks == {("s0", "r1"): True, ("s1", "r1"): True, ("s2", "r1"): None, ("s3", "r2"): False}
    assert await bookings.mark_eligibility_verified("r1") == 0


async def test_community_and_street_names(places):
    communities, _ = places
    assert await communities.names() == {"a": "莲花社区", "b": "华富", "c": "c"}
    assert await communities.names({"street": "s1"}) == {"a": "莲花社区", "b": "华富"}
    assert await communities.street_names() == {"s1": "华富街道", "s2": "s2"}


async def test_accounts_are_bound_to_places_that_exist(places):
    _, staff = places
    grid = await staff.create(" Wang ", PASSWORD, name=" ", role="grid_worker", community="a")
    assert (grid.username, grid.name, grid.community, grid.street) == ("wang", "wang", "a", "s1")
    assert grid.active
    street = await staff.create("li", PASSWORD, name="李", role="street_admin", community="a", street="s2")
    assert (street.community, street.street) == (None, "s2")
    root = await staff.create("root", PASSWORD, name="管理员", role="sysadmin", community="a", street="s1")
    assert (root.community, root.street) == (None, None)
    refusals = [
        (dict(username="x y"), "用户名只能包含"), (dict(password="short"), "密码至少10位"),
        (dict(role="boss"), "角色不正确"), (dict(community="nowhere"), "请选择一个存在的社区"),
        (dict(community=None), "请选择一个存在的社区"), (dict(username="WANG"), "用户名已存在"),
        (dict(role="street_admin", street="nowhere"), "请选择一个存在的街道"),
    ]
    for change, message in refusals:
        asked = {"username": "new", "password": PASSWORD, "role": "grid_worker", "community": "a", **change}
        with pytest.raises(StaffError, match=message):
            await staff.create(asked.pop("username"), asked.pop("password"), name="n", **asked)
    assert [m.username for m in await staff.list({})] == ["li", "root", "wang"]


async def test_accounts_within_a_scope(places):
    _, staff = places
    grid_a = await staff.create("grid-a", PASSWORD, name="a", role="grid_worker", community="a")
    admin_b = await staff.create("admin-b", PASSWORD, name="b", role="community_admin", community="b")
    grid_c = await staff.create("grid-c", PASSWORD, name="c", role="grid_worker", community="c")
    street = await staff.create("street", PASSWORD, name="s", role="street_admin", street="s1")
    assert (await staff.get_in_scope(grid_a.id, IN_A)).username == "grid-a"
    assert await staff.get_in_scope(admin_b.id, IN_A) is None
    assert (await staff.get_in_scope(admin_b.id, STREET)).role == "community_admin"
    assert await staff.get_in_scope(street.id, STREET) is None  # a street admin: sysadmins only
    assert (await staff.get_in_scope(street.id, {})).street == "s1"
    assert await staff.get_in_scope("nobody", {}) is None
    assert [m.username for m in await staff.list(STREET)] == ["admin-b", "grid-a"]
    assert [m.id for m in await staff.list({}, limit=2)] == [admin_b.id, grid_a.id]
    off = await staff.set_active(grid_c.id, False)
    assert off.active is False and (await staff.get(grid_c.id)).active is False
    assert (await staff.set_active(grid_c.id, True)).active is True
    assert await staff.set_active("nobody", False) is None


async def test_audit_entries_keep_no_secrets_and_are_listed_within_a_scope(audit, places):
    _, staff = places
    admin = await staff.create("admin-a", PASSWORD, name="a", role="community_admin", community="a")
    made = await audit.record(admin, "thing.create", "things", "t1", None,
                              {"community": "b", "token": "x", "nested": {"password_hash": "h", "k": 1}})
    await audit.record(admin, "thing.update", "things", 2, {"k": 1}, {"k": 2}, resident_id="r1",
                       ip="10.0.0.1")
    await audit.record(None, "thing.expire", "things", None, None, None, community="c")
    every = await audit.list({})
    assert len(every) == 3 and len(await audit.list({}, limit=2)) == 2
    first = next(e for e in every if e["_id"] == made)
    assert first["after"] == {"community": "b", "nested": {"k": 1}} and first["community"] == "b"
    assert (first["username"], first["role"], first["street"]) == ("admin-a", "community_admin", "s1")
    [update] = await audit.list(IN_A)  # the staff member's community, where the record has none
    assert (update["record_id"], update["resident_id"], update["ip"]) == ("2", "r1", "10.0.0.1")
    [expiry] = await audit.list({}, action="thing.expire", collection="things")
    assert (expiry["username"], expiry["staff_id"], expiry["record_id"]) == ("system", None, None)
    assert await audit.list(STREET, record_id="t1", staff_id=admin.id) == [first]
