"""Booking rules against the real MongoDB-compatible server (tests/bookings_helpers.py): the
seeded catalog, eligibility, notice and window, the cancellation cutoff, proxy booking,
reminders, attendance and rentals."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.booking_rules import BookingRefused
from services.events import BookingAttended
from storage.booking_catalog import TZ, service_id
from storage.bookings import seed_catalog
from storage.notices import NoticeRepository
from tests.bookings_helpers import (  # noqa: F401  (fixture)
    COMMUNITY, a_slot, invariant, resident, setup, staff,
)


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

    async def award(event: BookingAttended) -> None:
        seen.append(event.payload())

    service.bus.subscribe(BookingAttended, award)
    try:
        clock.now = slot["start"] + timedelta(minutes=10)
        done = await service.mark_attendance(booking["_id"], "attended", staff())
        again = await service.mark_attendance(booking["_id"], "attended", staff())
    finally:
        service.bus.unsubscribe(BookingAttended, award)
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
