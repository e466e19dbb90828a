"""What the BookingService tests on the real MongoDB-compatible server share: the service with
the demo catalog and a settable clock (the `setup` fixture), residents, slots, a staff member
and the capacity invariant.

Use in a test module with
    from tests.bookings_helpers import a_slot, invariant, resident, setup  # noqa: F401  (fixture)
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest_asyncio

from bot.bootstrap import booking_service
from services import events
from services.bookings import BookingService
from services.notify import Notifier
from storage.booking_catalog import service_id
from storage.bookings import ensure_indexes, seed_catalog
from storage.notices import NoticeRepository
from storage.residents import ResidentRepository
from storage.staff import Staff
from tests.fakes.services import Clock

COMMUNITY = "huafu-tianmian"


def bson_now() -> datetime:
    """Now, to the millisecond (what BSON stores)."""
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@pytest_asyncio.fixture
async def setup(db):
    """The service and its clock: settable, so cutoffs and offer expiry are tested without waiting."""
    await ensure_indexes(db)
    await NoticeRepository(db).ensure_indexes()
    await ResidentRepository(db).ensure_indexes()
    await seed_catalog(db)
    clock = Clock(bson_now())
    residents = ResidentRepository(db)
    service = booking_service(db, residents, Notifier(NoticeRepository(db), residents), events.EventBus(), clock=clock)
    return service, clock


async def resident(db, name: str, birth_year: int | None = 1950, disability: bool = False):
    repo = ResidentRepository(db)
    person = await repo.for_user_key(f"rest:{name}", COMMUNITY)
    return await repo.update_profile(person.id, name=name, birth_year=birth_year, disability=disability)


async def a_slot(service: BookingService, code: str, capacity: int | None = None, days: int = 2) -> dict:
    """An open slot of `code` starting `days` days from now (optionally resized)."""
    svc = await service.catalog.get(service_id(COMMUNITY, code))
    start = service.clock() + timedelta(days=days)
    slot = await service.create_slot(svc, start, start + timedelta(hours=1), capacity or 10, "测试场")
    return slot


def staff() -> Staff:
    return Staff(id="staff-1", username="wang", name="王社工", role="community_admin", community=COMMUNITY,
                 street="huafu")


async def invariant(service: BookingService, slot_id: str) -> dict:
    """slot.booked == active bookings + open offers, and never above capacity."""
    slot = await service.slots.get(slot_id)
    active = await service.bookings.count_active(slot_id)
    offers = await service.waitlist.count_offers(slot_id)
    assert slot["booked"] == active + offers, (slot["booked"], active, offers)
    assert 0 <= slot["booked"] <= slot["capacity"]
    return slot
