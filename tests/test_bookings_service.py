"""Booking rules against the real MongoDB-compatible server: capacity under concurrency,
eligibility, notice and cutoff, waitlist promotion, proxy booking, reminders, attendance."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio
from pymongo.errors import DuplicateKeyError

from bot.bootstrap import booking_service
from services import events
from services.booking_rules import BookingRefused
from services.bookings import BOOKING_ATTENDED, BookingService
from services.notify import Notifier
from storage.booking_catalog import TZ, service_id
from storage.bookings import ensure_indexes, seed_catalog
from storage.notices import NoticeRepository
from storage.residents import ResidentRepository
from storage.staff import Staff

COMMUNITY = "huafu-tianmian"


class Clock:
    """A settable clock so cutoffs and offer expiry can be tested without waiting."""

    def __init__(self) -> None:
        now = datetime.now(timezone.utc)
        self.now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what BSON stores

    def __call__(self) -> datetime:
        return self.now


@pytest_asyncio.fixture
async def setup(db):
    await ensure_indexes(db)
    await NoticeRepository(db).ensure_indexes()
    await ResidentRepository(db).ensure_indexes()
    await seed_catalog(db)
    clock = Clock()
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


async def test_seeded_catalog_has_every_service_and_two_weeks_of_slots(setup, db):
    service, _ = setup
    codes = [s["code"] for s in await service.services_for(COMMUNITY)]
    assert codes == ["elderly_meal", "health_check", "rehab_rental", "volunteer", "rest_room", "legal_aid", "venue"]
    meal = await service.catalog.get(service_id(COMMUNITY, "elderly_meal"))
    assert meal["eligibility"] == {"min_age": 60, "disability_qualifies": True}
    slots = await service.slots.for_service(meal["_id"])
    assert len(slots) == 28  # lunch and dinner on 14 days
    days = {s["start"].astimezone(TZ).date() for s in slots}
    assert len(days) == 14
    pools = await service.slots.for_service(service_id(COMMUNITY, "rehab_rental"))
    assert {p["unit"]: p["capacity"] for p in pools} == {"wheelchair": 4, "walker": 3, "crutches": 6, "care_bed": 2}
    count = await db["booking_slots"].count_documents({})
    await seed_catalog(db)  # idempotent
    assert await db["booking_slots"].count_documents({}) == count


async def test_200_concurrent_requests_for_10_places_book_exactly_10(setup, db):
    service, _ = setup
    slot = await a_slot(service, "volunteer", capacity=10)
    people = await asyncio.gather(*(resident(db, f"v{i}", birth_year=1990) for i in range(200)))

    async def attempt(person):
        try:
            return await service.book(slot["_id"], person, join_waitlist=False)
        except BookingRefused as refused:
            return refused

    results = await asyncio.gather(*(attempt(p) for p in people))
    booked = [r for r in results if not isinstance(r, BookingRefused)]
    refused = [r for r in results if isinstance(r, BookingRefused)]
    assert len(booked) == 10 and all(r.status == "booked" for r in booked)
    assert len(refused) == 190 and {r.code for r in refused} == {"full"}
    assert all(r.text == "这个时段已经约满了。" for r in refused)
    assert len({r.booking["booking_no"] for r in booked}) == 10
    slot = await invariant(service, slot["_id"])
    assert slot["booked"] == 10


async def test_200_concurrent_requests_with_waitlist_queue_the_other_190_in_order(setup, db):
    service, _ = setup
    slot = await a_slot(service, "volunteer", capacity=10)
    people = await asyncio.gather(*(resident(db, f"w{i}", birth_year=1990) for i in range(200)))
    results = await asyncio.gather(*(service.book(slot["_id"], p, join_waitlist=True) for p in people))
    assert sum(r.status == "booked" for r in results) == 10
    waiting = [r for r in results if r.status == "waitlisted"]
    assert len(waiting) == 190
    assert sorted(r.entry["seq"] for r in waiting) == sorted(set(r.entry["seq"] for r in waiting))
    assert await service.bookings.count_active(slot["_id"]) == 10
    entries = await service.waitlist.for_slot(slot["_id"])
    assert len(entries) == 190 and all(e["status"] == "waiting" for e in entries)
    positions = [await service.waitlist.position(e) for e in entries]
    assert positions == list(range(1, 191))
    await invariant(service, slot["_id"])


async def test_one_resident_cannot_hold_two_places_in_a_slot(setup, db):
    service, _ = setup
    slot = await a_slot(service, "health_check", capacity=5)
    person = await resident(db, "dup")
    results = await asyncio.gather(*(service.book(slot["_id"], person) for _ in range(20)), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert {r.code for r in results if isinstance(r, BookingRefused)} == {"duplicate"}
    slot = await invariant(service, slot["_id"])
    assert slot["booked"] == 1


async def test_repeated_taps_of_one_resident_never_take_a_neighbours_place(setup, db):
    """20 taps by one resident and one tap by a neighbour for the last 2 places: both get
    one (before, the taps briefly held places and the neighbour could be told "full")."""
    service, _ = setup
    slot = await a_slot(service, "health_check", capacity=2)
    eager, neighbour = await resident(db, "eager"), await resident(db, "neighbour")
    for _ in range(5):
        taps = [service.book(slot["_id"], eager) for _ in range(20)]
        results = await asyncio.gather(*taps, service.book(slot["_id"], neighbour), return_exceptions=True)
        mine, theirs = results[:-1], results[-1]
        assert not isinstance(theirs, Exception) and theirs.status == "booked"
        assert sum(not isinstance(r, Exception) for r in mine) == 1
        assert {r.code for r in mine if isinstance(r, BookingRefused)} == {"duplicate"}
        assert (await invariant(service, slot["_id"]))["booked"] == 2
        for booking in await service.bookings.for_slot(slot["_id"], active_only=True):
            await service.cancel(booking["_id"], staff=staff())
        assert (await invariant(service, slot["_id"]))["booked"] == 0
    assert await db["bookings"].count_documents({"status": "holding"}) == 0


async def test_a_holding_booking_left_by_a_crash_does_not_block_the_resident(setup, db):
    service, clock = setup
    slot = await a_slot(service, "health_check", capacity=3)
    person = await resident(db, "crashed")
    await service.bookings.insert({"slot_id": slot["_id"], "resident_id": person.id, "status": "holding",
                                   "created_at": clock() - timedelta(minutes=1)})
    with pytest.raises(BookingRefused) as refused:  # recent: another attempt may still be running
        await service.book(slot["_id"], person)
    assert refused.value.code == "duplicate"
    clock.now += timedelta(minutes=2)
    result = await service.book(slot["_id"], person)
    assert result.status == "booked"
    assert await db["bookings"].count_documents({"slot_id": slot["_id"]}) == 1
    assert [b["_id"] for b in await service.bookings.for_slot(slot["_id"])] == [result.booking["_id"]]


async def test_indexes_of_an_older_database_are_migrated(db):
    """Active bookings from before `holds_place` keep blocking a second booking of the slot."""
    await db["bookings"].create_index([("slot_id", 1), ("resident_id", 1)], name="one_active_per_slot",
                                      unique=True, partialFilterExpression={"status": "booked"})
    await db["bookings"].insert_one({"_id": "old", "slot_id": "s1", "resident_id": "r1", "status": "booked",
                                     "booking_no": "00000001"})
    await ensure_indexes(db)
    assert "one_active_per_slot" not in await db["bookings"].index_information()
    assert (await db["bookings"].find_one({"_id": "old"}))["holds_place"] is True
    with pytest.raises(DuplicateKeyError):
        await db["bookings"].insert_one({"_id": "new", "slot_id": "s1", "resident_id": "r1", "status": "holding",
                                         "holds_place": True, "booking_no": "00000002"})


async def test_eligibility_refusal_is_explained(setup, db):
    service, _ = setup
    slot = await a_slot(service, "elderly_meal", capacity=30)
    young = await resident(db, "young", birth_year=service.clock().astimezone(TZ).year - 35)
    with pytest.raises(BookingRefused) as refused:
        await service.book(slot["_id"], young)
    assert refused.value.code == "too_young"
    assert "老年助餐面向60岁及以上的老人，或持残疾证的居民" in refused.value.text
    assert "今年是35岁" in refused.value.text and "残疾证" in refused.value.text
    unknown = await resident(db, "unknown", birth_year=None)
    with pytest.raises(BookingRefused) as refused:
        await service.book(slot["_id"], unknown)
    assert refused.value.code == "age_unknown"
    disabled = await resident(db, "disabled", birth_year=1995, disability=True)
    assert (await service.book(slot["_id"], disabled)).status == "booked"
    assert (await service.slots.get(slot["_id"]))["booked"] == 1


async def test_minimum_notice_and_booking_window(setup, db):
    service, clock = setup
    meal = await service.catalog.get(service_id(COMMUNITY, "elderly_meal"))  # 2 h notice, 7 day window
    person = await resident(db, "timing")
    soon = await service.create_slot(meal, clock.now + timedelta(minutes=90), clock.now + timedelta(hours=2), 5, None)
    with pytest.raises(BookingRefused) as refused:
        await service.book(soon["_id"], person)
    assert refused.value.code == "too_soon" and "提前2小时" in refused.value.text
    far = await service.create_slot(meal, clock.now + timedelta(days=9), clock.now + timedelta(days=9, hours=1), 5, None)
    with pytest.raises(BookingRefused) as refused:
        await service.book(far["_id"], person)
    assert refused.value.code == "too_far" and "7天" in refused.value.text
    assert (await service.slots.get(soon["_id"]))["booked"] == 0


async def test_cancellation_cutoff(setup, db):
    service, clock = setup
    slot = await a_slot(service, "elderly_meal", capacity=5, days=1)  # 2 h cutoff
    person = await resident(db, "cutoff")
    booking = (await service.book(slot["_id"], person)).booking
    clock.now = slot["start"] - timedelta(minutes=119)
    with pytest.raises(BookingRefused) as refused:
        await service.cancel(booking["_id"], actor=person)
    assert refused.value.code == "too_late" and "开始前2小时取消" in refused.value.text
    assert (await service.bookings.get(booking["_id"]))["status"] == "booked"
    done = await service.cancel(booking["_id"], staff=staff(), reason="饭堂检修")  # staff may
    assert done["status"] == "cancelled" and done["cancelled_by"] == "staff:staff-1"
    slot = await invariant(service, slot["_id"])
    assert slot["booked"] == 0
    notices = await NoticeRepository(db).for_resident(person.id)
    assert "已被社区取消，原因：饭堂检修" in notices[0].text


async def test_cancellation_offers_the_place_to_the_first_waiting(setup, db):
    service, clock = setup
    slot = await a_slot(service, "legal_aid", capacity=1, days=3)
    first, second, third = [await resident(db, n) for n in ("first", "second", "third")]
    holder = (await service.book(slot["_id"], first)).booking
    w2 = await service.book(slot["_id"], second, join_waitlist=True, user_key="rest:second")
    w3 = await service.book(slot["_id"], third, join_waitlist=True, user_key="rest:third")
    assert (w2.status, w2.position, w3.position) == ("waitlisted", 1, 2)
    assert (await service.book(slot["_id"], third)).position == 2  # asking again keeps the place in line
    with pytest.raises(BookingRefused) as refused:
        await service.book(slot["_id"], await resident(db, "fourth"))
    assert refused.value.code == "full"

    await service.cancel(holder["_id"], actor=first, reason="临时有事")
    offer = await service.waitlist.get(w2.entry["_id"])
    assert offer["status"] == "offered"
    assert offer["offer_expires_at"] == clock.now + timedelta(minutes=30)
    slot_now = await invariant(service, slot["_id"])
    assert slot_now["booked"] == 1  # the place is held for the offer, nobody else can take it
    with pytest.raises(BookingRefused):
        await service.book(slot["_id"], await resident(db, "latecomer"))
    notice = (await NoticeRepository(db).for_resident(second.id))[0]
    assert "有名额了" in notice.text and notice.ref == f"waitlist:{offer['_id']}"

    booking = await service.accept_offer(offer["_id"], second)
    assert booking["resident_id"] == second.id and booking["via_waitlist"] is True
    assert (await service.waitlist.get(offer["_id"]))["status"] == "accepted"
    assert (await service.waitlist.position(await service.waitlist.get(w3.entry["_id"]))) == 1
    slot_now = await invariant(service, slot["_id"])
    assert slot_now["booked"] == 1


async def test_an_expired_offer_passes_to_the_next_and_a_declined_one_too(setup, db):
    service, clock = setup
    slot = await a_slot(service, "legal_aid", capacity=1, days=3)
    holder, a, b = [await resident(db, n) for n in ("holder", "a", "b")]
    booking = (await service.book(slot["_id"], holder)).booking
    ea = (await service.book(slot["_id"], a, join_waitlist=True)).entry
    eb = (await service.book(slot["_id"], b, join_waitlist=True)).entry
    await service.cancel(booking["_id"], actor=holder)
    clock.now += timedelta(minutes=31)
    assert await service.expire_offers() == 1
    assert (await service.waitlist.get(ea["_id"]))["status"] == "expired"
    with pytest.raises(BookingRefused) as refused:
        await service.accept_offer(ea["_id"], a)
    assert refused.value.code == "offer_gone"
    assert (await service.waitlist.get(eb["_id"]))["status"] == "offered"
    assert "让给下一位" in (await NoticeRepository(db).for_resident(a.id))[0].text
    await invariant(service, slot["_id"])
    await service.decline_offer(eb["_id"], b)
    slot_now = await invariant(service, slot["_id"])
    assert slot_now["booked"] == 0  # nobody left waiting: the place is free again
    assert (await service.book(slot["_id"], a)).status == "booked"


async def test_concurrent_cancellations_keep_the_counter_exact(setup, db):
    service, _ = setup
    slot = await a_slot(service, "volunteer", capacity=10)
    people = await asyncio.gather(*(resident(db, f"c{i}", birth_year=1990) for i in range(30)))
    results = await asyncio.gather(*(service.book(slot["_id"], p, join_waitlist=True) for p in people))
    booked = [(r.booking, p) for r, p in zip(results, people) if r.status == "booked"]
    assert len(booked) == 10
    # every holder cancels at once (twice each, to race with themselves), while 5 more people join
    cancels = [service.cancel(b["_id"], actor=p) for b, p in booked for _ in range(2)]
    newcomers = await asyncio.gather(*(resident(db, f"n{i}", birth_year=1990) for i in range(5)))
    joins = [service.book(slot["_id"], p, join_waitlist=True) for p in newcomers]
    outcomes = await asyncio.gather(*cancels, *joins, return_exceptions=True)
    assert sum(isinstance(o, BookingRefused) and o.code == "not_active" for o in outcomes[:20]) == 10
    slot_now = await invariant(service, slot["_id"])
    assert slot_now["booked"] == 10  # every freed place went to an offer
    assert await service.waitlist.count_offers(slot["_id"]) + await service.bookings.count_active(slot["_id"]) == 10


async def test_more_places_serve_the_queue_and_fewer_than_taken_is_refused(setup, db):
    service, _ = setup
    slot = await a_slot(service, "health_check", capacity=2)
    people = [await resident(db, f"cap{i}") for i in range(4)]
    for p in people:
        await service.book(slot["_id"], p, join_waitlist=True)
    with pytest.raises(BookingRefused) as refused:
        await service.edit_slot(slot["_id"], capacity=1)
    assert refused.value.code == "below_booked"
    await service.edit_slot(slot["_id"], capacity=3)
    slot_now = await invariant(service, slot["_id"])
    assert slot_now["booked"] == 3 and await service.waitlist.count_offers(slot["_id"]) == 1
    await service.edit_slot(slot["_id"], status="closed")
    with pytest.raises(BookingRefused) as refused:
        await service.book(slot["_id"], await resident(db, "closed"))
    assert refused.value.code == "closed"


async def test_proxy_booking_needs_a_confirmed_link(setup, db):
    service, _ = setup
    slot = await a_slot(service, "elderly_meal", capacity=5)
    son = await resident(db, "son", birth_year=1985)
    mother = await resident(db, "mother", birth_year=1948)
    with pytest.raises(BookingRefused) as refused:
        await service.book(slot["_id"], mother, booker=son)
    assert refused.value.code == "not_linked"
    request = await service.request_link(son, "family", "妈妈")
    assert request["status"] == "pending" and len(request["code"]) == 6
    with pytest.raises(BookingRefused):
        await service.confirm_link(son, request["code"])  # not with oneself
    with pytest.raises(BookingRefused):
        await service.confirm_link(mother, "000000" if request["code"] != "000000" else "111111")
    link = await service.confirm_link(mother, request["code"])
    assert link["status"] == "confirmed" and link["elder_id"] == mother.id
    booking = (await service.book(slot["_id"], mother, booker=son, user_key="rest:son")).booking
    assert booking["resident_id"] == mother.id and booking["booked_by"] == son.id
    assert [b["_id"] for b in (await service.mine(son))["bookings"]] == [booking["_id"]]
    assert [b["_id"] for b in (await service.mine(mother))["bookings"]] == [booking["_id"]]
    # the elder's eligibility counts, not the helper's: the son cannot book 助餐 for himself
    with pytest.raises(BookingRefused) as refused:
        await service.book(slot["_id"], son, booker=son)
    assert refused.value.code == "too_young"


async def test_reminders_go_out_once_the_day_before(setup, db):
    service, clock = setup
    meal = await service.catalog.get(service_id(COMMUNITY, "elderly_meal"))
    local_now = clock.now.astimezone(TZ)
    tomorrow_noon = (local_now + timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    slot = await service.create_slot(meal, tomorrow_noon + timedelta(minutes=7),
                                     tomorrow_noon + timedelta(minutes=67), 5, None)
    person = await resident(db, "remind")
    booking = (await service.book(slot["_id"], person, user_key="rest:remind")).booking
    assert await service.send_reminders() == 1
    assert await service.send_reminders() == 0
    notice = (await NoticeRepository(db).for_resident(person.id))[0]
    assert "【邻里提醒】" in notice.text and booking["booking_no"] in notice.text and "明天" in notice.text


async def test_attendance_publishes_an_event_for_points(setup, db):
    service, clock = setup
    slot = await a_slot(service, "volunteer", capacity=10, days=1)
    person = await resident(db, "helper", birth_year=1990)
    booking = (await service.book(slot["_id"], person)).booking
    with pytest.raises(BookingRefused) as refused:
        await service.mark_attendance(booking["_id"], "attended", staff())
    assert refused.value.code == "not_started"
    seen: list[dict] = []

    async def award(payload: dict) -> None:
        seen.append(payload)

    service.bus.subscribe(BOOKING_ATTENDED, award)
    try:
        clock.now = slot["start"] + timedelta(minutes=10)
        done = await service.mark_attendance(booking["_id"], "attended", staff())
        again = await service.mark_attendance(booking["_id"], "attended", staff())
    finally:
        service.bus.unsubscribe(BOOKING_ATTENDED, award)
    assert done["attendance"] == "attended" and again["attendance"] == "attended"
    assert len(seen) == 1  # once, however often staff click
    assert seen[0]["service"] == "volunteer" and seen[0]["resident_id"] == person.id
    assert seen[0]["booking_no"] == booking["booking_no"] and seen[0]["staff_id"] == "staff-1"


async def test_a_rental_holds_a_unit_until_returned(setup, db):
    service, clock = setup
    rental = await service.catalog.get(service_id(COMMUNITY, "rehab_rental"))
    pools = {p["unit"]: p for p in await service.slots.for_service(rental["_id"])}
    beds = pools["care_bed"]
    people = [await resident(db, f"bed{i}") for i in range(3)]
    day = service.pickup_days(rental)[0]
    first = (await service.book(beds["_id"], people[0], pickup=day)).booking
    await service.book(beds["_id"], people[1], pickup=day)
    queued = await service.book(beds["_id"], people[2], pickup=day, join_waitlist=True)
    assert queued.status == "waitlisted"
    assert first["kind"] == "rental" and first["end"] - first["start"] == timedelta(days=30)
    await service.return_rental(first["_id"], staff())
    offer = await service.waitlist.get(queued.entry["_id"])
    assert offer["status"] == "offered"
    booking = await service.accept_offer(offer["_id"], people[2])
    assert booking["start"].astimezone(TZ).date() == day
    await invariant(service, beds["_id"])
