"""ResidentDesk (services/resident_desk.py), what staff do with residents' records in the
console, on the in-memory fakes: the scope, the search, verifying facts (and the bookings'
待核实 mark), contact corrections, and the audit trail."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from domain.errors import ConflictError, InvalidError, NotFoundError
from services.bookings import BookingService
from services.events import EventBus
from services.resident_desk import BAD_PHONE, ResidentDesk
from storage.staff import Staff
from tests.fakes.bookings import (
    FakeBookingRepository, FakeCatalogRepository, FakeLinkRepository, FakeSlotRepository,
    FakeWaitlistRepository,
)
from tests.fakes.people import FakeResidentRepository
from tests.fakes.query import stored
from tests.fakes.services import Clock
from tests.fakes.staff import FakeAuditLog

pytestmark = pytest.mark.unit

T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
IN_A = {"community": "a"}
ADMIN = Staff(id="s-admin", username="admin-a", name="管理员", role="community_admin", community="a")
GRID = Staff(id="s-grid", username="grid-a", name="网格员", role="grid_worker", community="a")


class World:
    def __init__(self) -> None:
        self.clock, self.residents, self.audit = Clock(T0), FakeResidentRepository(), FakeAuditLog()
        self.bookings = FakeBookingRepository()
        booking_service = BookingService(FakeCatalogRepository(), FakeSlotRepository(), self.bookings,
                                         FakeWaitlistRepository(), FakeLinkRepository(), self.residents,
                                         bus=EventBus(), clock=self.clock)
        self.desk = ResidentDesk(self.residents, booking_service, self.audit, clock=self.clock)

    def add(self, rid: str, community: str = "a", minutes: int = 0, **fields) -> None:
        self.residents.docs[rid] = stored({"_id": rid, "user_keys": [f"rest:{rid}"], "community": community,
                                           "created_at": T0 + timedelta(minutes=minutes), **fields})

    async def booking(self, slot_id: str, resident_id: str, verified: bool) -> None:
        await self.bookings.insert({"slot_id": slot_id, "resident_id": resident_id, "status": "booked",
                                    "start": T0, "eligibility_verified": verified})

    async def marks(self) -> dict[str, bool]:
        return {b["slot_id"]: b["eligibility_verified"]
                for rid in ("r1", "r2") for b in await self.bookings.active_for_resident(rid)}


@pytest.fixture
def world() -> World:
    made = World()
    made.add("r1", name="王阿姨", phone="13800000001", building="3栋501", birth_year=1950)
    made.add("r2", minutes=1, name="王大爷", phone="13800000002", building="5栋201")
    made.add("r3", community="b", minutes=2, name="李奶奶")
    made.add("r4", minutes=3, deleted_at=T0)
    return made


def ids(docs: list[dict]) -> list[str]:
    return [doc["_id"] for doc in docs]


async def test_counting_and_searching_stay_within_the_scope(world):
    desk = world.desk
    assert await desk.count(IN_A) == 2 and await desk.count({}) == 3  # never the erased r4
    assert ids(await desk.search(IN_A, "", contact=False)) == ["r2", "r1"]
    assert ids(await desk.search({}, "王", contact=False, skip=1, limit=1)) == ["r1"]
    assert await desk.search(IN_A, "李奶奶", contact=True) == []
    assert await desk.count(IN_A, "王 阿 姨 王 not-a-word") == 1  # four words count, the fifth not


async def test_only_staff_who_see_contact_details_find_residents_by_them(world):
    desk = world.desk
    assert await desk.search(IN_A, "13800000002", contact=False) == []
    assert await desk.count(IN_A, "3栋", contact=False) == 0
    assert ids(await desk.search(IN_A, "13800000002", contact=True)) == ["r2"]
    assert await desk.count(IN_A, "王 3栋", contact=True) == 1


async def test_a_record_outside_the_scope_is_answered_like_a_missing_one(world):
    assert (await world.desk.get("r1", IN_A))["name"] == "王阿姨"
    for rid, scope in (("r3", IN_A), ("r4", {}), ("nobody", {})):
        with pytest.raises(NotFoundError) as refused:
            await world.desk.get(rid, scope)
        assert refused.value.status == 404 and refused.value.zh == ""


async def test_verified_facts_clear_the_bookings_mark_and_are_audited(world):
    await world.booking("s1", "r1", False)
    await world.booking("s2", "r2", False)
    assert not world.desk.facts_verified(await world.desk.get("r1", IN_A))
    after = await world.desk.verify_facts(GRID, IN_A, "r1")
    assert after.facts_verified and after.eligibility_verified["by"] == GRID.id
    assert after.eligibility_verified["at"] == T0
    assert world.desk.facts_verified(await world.desk.get("r1", IN_A))
    assert await world.marks() == {"s1": True, "s2": False}
    [entry] = world.audit.entries
    assert (entry["action"], entry["collection"], entry["record_id"], entry["resident_id"]) == (
        "resident.verify", "residents", "r1", "r1")
    assert entry["before"] == {"eligibility_verified": False}
    assert entry["after"] == {"eligibility_verified": True, "birth_year": 1950, "disability": False}
    assert entry["community"] == "a" and entry["username"] == "grid-a"


async def test_facts_changed_meanwhile_or_out_of_scope_change_nothing(world, monkeypatch):
    await world.booking("s1", "r1", False)

    async def changed_meanwhile(*args):
        return None

    monkeypatch.setattr(world.residents, "verify_facts", changed_meanwhile)
    with pytest.raises(ConflictError) as refused:
        await world.desk.verify_facts(GRID, IN_A, "r1")
    assert refused.value.status == 409 and refused.value.zh == ""
    with pytest.raises(NotFoundError):
        await world.desk.verify_facts(GRID, IN_A, "r3")
    assert await world.marks() == {"s1": False} and world.audit.entries == []


async def test_contact_corrections_are_audited_and_an_empty_field_is_removed(world):
    after = await world.desk.correct_contact(ADMIN, IN_A, "r1", phone="13900001111", building="")
    assert after["phone"] == "13900001111" and "building" not in after
    assert "building" not in await world.residents.document("r1")
    [entry] = world.audit.entries
    assert (entry["action"], entry["record_id"], entry["resident_id"], entry["community"]) == (
        "resident.update", "r1", "r1", "a")
    assert entry["before"] == {"community": "a", "phone": "13800000001", "building": "3栋501"}
    assert entry["after"] == {"community": "a", "phone": "13900001111", "building": None}
    again = await world.desk.correct_contact(ADMIN, IN_A, "r1", phone="", building="6栋")
    assert "phone" not in again and again["building"] == "6栋"


@pytest.mark.parametrize("phone", ["1380000000", "138000000011", "12345678901", "1380000000a",
                                   "+8613800000001"])
async def test_the_phone_must_be_a_mobile_number(world, phone):
    with pytest.raises(InvalidError) as refused:
        await world.desk.correct_contact(ADMIN, IN_A, "r1", phone=phone, building="6栋")
    assert (refused.value.status, refused.value.zh) == (400, BAD_PHONE)
    assert (await world.residents.document("r1"))["building"] == "3栋501" and world.audit.entries == []


async def test_a_correction_outside_the_scope_is_not_found_before_the_phone_is_checked(world):
    with pytest.raises(NotFoundError):
        await world.desk.correct_contact(ADMIN, IN_A, "r3", phone="bad", building="")
    assert "phone" not in await world.residents.document("r3") and world.audit.entries == []
