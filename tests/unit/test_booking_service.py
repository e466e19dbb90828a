"""BookingService rules on in-memory repositories (tests/fakes): capacity, the waitlist and its
offers, notice, window and cancellation cutoff, eligibility, proxy booking, attendance,
rentals, staff slots, reminders. tests/test_bookings_capacity.py runs the parts only the real
server shows (hundreds of concurrent requests, the unique indexes under load)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest

from services.booking_rules import BookingRefused
from services.bookings import BookingService
from services.events import BookingAttended, BookingCancelled, BookingCreated, EventBus
from storage.booking_catalog import CATALOG, service_doc, service_id
from storage.staff import Staff
from tests.fakes.bookings import (
    FakeBookingRepository, FakeCatalogRepository, FakeLinkRepository, FakeSlotRepository, FakeWaitlistRepository,
)
from tests.fakes.people import FakeResidentRepository
from tests.fakes.services import Clock, RecordingNotifier

pytestmark = pytest.mark.unit

COMMUNITY = "c1"
T0 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in China
STAFF = Staff(id="staff-1", username="wang", name="王社工", role="community_admin", community=COMMUNITY,
              street="huafu")


class World:
    def __init__(self) -> None:
        self.clock = Clock(T0)
        self.catalog, self.slots, self.bookings = FakeCatalogRepository(), FakeSlotRepository(), FakeBookingRepository()
        self.waitlist, self.links, self.residents = FakeWaitlistRepository(), FakeLinkRepository(), FakeResidentRepository()
        self.notifier, self.bus, self.events = RecordingNotifier(), EventBus(), []
        for kind in (BookingCreated, BookingCancelled, BookingAttended):
            self.bus.subscribe(kind, self._seen)
        self.service = BookingService(self.catalog, self.slots, self.bookings, self.waitlist, self.links,
                                      self.residents, notifier=self.notifier, bus=self.bus, clock=self.clock)

    async def _seen(self, event) -> None:
        self.events.append(event)

    def seen(self, kind) -> list:
        return [e for e in self.events if isinstance(e, kind)]

    async def person(self, name: str, birth_year: int | None = 1990, disability: bool = False):
        made = await self.residents.for_user_key(f"rest:{name}", COMMUNITY)
        return await self.residents.update_profile(made.id, name=name, birth_year=birth_year, disability=disability)

    async def offering(self, code: str) -> dict:
        return await self.catalog.get(service_id(COMMUNITY, code))

    async def slot(self, code: str = "volunteer", capacity: int = 2, ahead: timedelta = timedelta(days=2)) -> dict:
        start = self.clock() + ahead
        return await self.service.create_slot(await self.offering(code), start, start + timedelta(hours=1), capacity,
                                              "测试场")

    async def booked(self, slot_id: str) -> int:
        return (await self.slots.get(slot_id))["booked"]


@pytest.fixture
async def world() -> World:
    made = World()
    for entry in CATALOG:
        await made.catalog.insert_if_missing(service_doc(COMMUNITY, entry))
    return made


async def refused(call) -> BookingRefused:
    with pytest.raises(BookingRefused) as caught:
        await call
    return caught.value


# -- capacity and the waitlist -------------------------------------------------------------


async def test_a_slot_is_never_overbooked(world):
    slot = await world.slot(capacity=2)
    people = [await world.person(f"v{i}") for i in range(3)]
    made = [await world.service.book(slot["_id"], p) for p in people[:2]]
    assert [r.status for r in made] == ["booked", "booked"]
    assert (await refused(world.service.book(slot["_id"], people[2]))).code == "full"
    assert await world.booked(slot["_id"]) == 2 and await world.bookings.count_active(slot["_id"]) == 2
    assert [e.booking_id for e in world.seen(BookingCreated)] == [r.booking["_id"] for r in made]
    assert made[0].booking["resident_id"] == people[0].id and made[0].booking["status"] == "booked"


async def test_a_resident_books_a_slot_once(world):
    slot = await world.slot(capacity=5)
    person = await world.person("dup")
    await world.service.book(slot["_id"], person)
    assert (await refused(world.service.book(slot["_id"], person))).code == "duplicate"
    assert await world.booked(slot["_id"]) == 1


async def test_a_full_slot_queues_and_a_cancellation_offers_the_place_in_order(world):
    slot = await world.slot(capacity=1)
    first, ann, bob = await world.person("first"), await world.person("ann"), await world.person("bob")
    booking = (await world.service.book(slot["_id"], first)).booking
    queued = [await world.service.book(slot["_id"], p, join_waitlist=True) for p in (ann, bob)]
    assert [(q.status, q.position) for q in queued] == [("waitlisted", 1), ("waitlisted", 2)]
    again = await world.service.book(slot["_id"], ann, join_waitlist=True)
    assert (again.status, again.position) == ("waitlisted", 1)
    await world.service.cancel(booking["_id"], actor=first)
    offer = await world.waitlist.get(queued[0].entry["_id"])
    assert offer["status"] == "offered" and offer["offer_expires_at"] == T0 + timedelta(minutes=30)
    assert await world.booked(slot["_id"]) == 1  # the offer holds the place
    assert [n["ref"] for n in world.notifier.to(ann.id)] == [f"waitlist:{offer['_id']}"]
    assert len(world.seen(BookingCancelled)) == 1
    mine = await world.service.mine(ann)
    assert [o["_id"] for o in mine["offers"]] == [offer["_id"]] and mine["offers"][0]["slot"]["_id"] == slot["_id"]
    accepted = await world.service.accept_offer(offer["_id"], ann)
    assert accepted["via_waitlist"] is True and accepted["resident_id"] == ann.id
    assert (await world.waitlist.get(offer["_id"]))["booking_id"] == accepted["_id"]
    assert await world.booked(slot["_id"]) == 1 and await world.bookings.count_active(slot["_id"]) == 1
    assert (await world.service.mine(bob))["waiting"][0]["position"] == 1


async def test_an_offer_not_taken_up_passes_to_the_next_then_back_to_the_slot(world):
    slot = await world.slot(capacity=1)
    first, ann, bob = await world.person("first"), await world.person("ann"), await world.person("bob")
    booking = (await world.service.book(slot["_id"], first)).booking
    ann_entry = (await world.service.book(slot["_id"], ann, join_waitlist=True)).entry
    bob_entry = (await world.service.book(slot["_id"], bob, join_waitlist=True)).entry
    await world.service.cancel(booking["_id"], actor=first)
    world.clock.advance(minutes=29)
    assert await world.service.expire_offers() == 0
    world.clock.advance(minutes=1)
    assert await world.service.expire_offers() == 1
    assert (await world.waitlist.get(ann_entry["_id"]))["status"] == "expired"
    assert (await world.waitlist.get(bob_entry["_id"]))["status"] == "offered"
    assert (await refused(world.service.accept_offer(ann_entry["_id"], ann))).code == "offer_gone"
    declined = await world.service.decline_offer(bob_entry["_id"], bob)
    assert declined["status"] == "declined"
    assert await world.booked(slot["_id"]) == 0  # nobody waits: the place is free again
    assert (await world.service.book(slot["_id"], ann)).status == "booked"


async def test_leaving_the_queue_and_offers_of_others(world):
    slot = await world.slot(capacity=1)
    first, ann, bob = await world.person("first"), await world.person("ann"), await world.person("bob")
    await world.service.book(slot["_id"], first)
    entry = (await world.service.book(slot["_id"], ann, join_waitlist=True)).entry
    assert (await refused(world.service.decline_offer(entry["_id"], bob))).code == "not_found"
    assert (await world.service.decline_offer(entry["_id"], ann))["status"] == "cancelled"
    assert (await refused(world.service.decline_offer(entry["_id"], ann))).code == "offer_gone"
    assert await world.booked(slot["_id"]) == 1


async def test_more_places_serve_the_queue(world):
    slot = await world.slot(capacity=1)
    first, ann = await world.person("first"), await world.person("ann")
    await world.service.book(slot["_id"], first)
    entry = (await world.service.book(slot["_id"], ann, join_waitlist=True)).entry
    assert (await refused(world.service.edit_slot(slot["_id"], capacity=0))).code == "bad_capacity"
    edited = await world.service.edit_slot(slot["_id"], capacity=2, title="加场")
    assert (edited["capacity"], edited["booked"], edited["title"]) == (2, 2, "加场")
    assert (await world.waitlist.get(entry["_id"]))["status"] == "offered"
    assert (await refused(world.service.edit_slot(slot["_id"], capacity=1))).code == "below_booked"


# -- timing, eligibility, cancellation ----------------------------------------------------------


async def test_notice_window_and_past_slots_are_refused(world):
    person = await world.person("v")
    soon = await world.slot(ahead=timedelta(minutes=30))  # volunteering needs 60 minutes' notice
    far = await world.slot(ahead=timedelta(days=15))  # and is booked at most 14 days ahead
    assert (await refused(world.service.book(soon["_id"], person))).code == "too_soon"
    assert (await refused(world.service.book(far["_id"], person))).code == "too_far"
    world.clock.advance(hours=1)
    assert (await refused(world.service.book(soon["_id"], person))).code == "past"
    assert await world.booked(soon["_id"]) == 0 and await world.booked(far["_id"]) == 0
    closed = await world.slot()
    await world.service.edit_slot(closed["_id"], status="closed")
    assert (await refused(world.service.book(closed["_id"], person))).code == "closed"
    assert (await refused(world.service.book("no-such-slot", person))).code == "not_found"


async def test_eligibility_decides_who_may_book(world):
    meal = await world.slot("elderly_meal", capacity=5, ahead=timedelta(days=1))
    young, unknown = await world.person("young", 1990), await world.person("unknown", None)
    disabled, elder = await world.person("disabled", 1990, disability=True), await world.person("elder", 1950)
    assert (await refused(world.service.book(meal["_id"], young))).code == "too_young"
    assert (await refused(world.service.book(meal["_id"], unknown))).code == "age_unknown"
    assert (await world.service.book(meal["_id"], disabled)).status == "booked"
    booking = (await world.service.book(meal["_id"], elder)).booking
    assert booking["eligibility_verified"] is False  # the birth year is as the resident gave it


async def test_residents_cancel_before_the_cutoff_staff_any_time(world):
    slot = await world.slot(capacity=2, ahead=timedelta(hours=20))  # volunteering: 24 h cutoff
    ann, bob = await world.person("ann"), await world.person("bob")
    late = (await world.service.book(slot["_id"], ann)).booking
    assert (await refused(world.service.cancel(late["_id"], actor=ann))).code == "too_late"
    assert (await refused(world.service.cancel(late["_id"], actor=bob))).code == "not_found"
    done = await world.service.cancel(late["_id"], staff=STAFF, reason="下雨取消")
    assert (done["status"], done["cancelled_by"]) == ("cancelled", "staff:staff-1")
    assert [n["ref"] for n in world.notifier.to(ann.id)] == [f"booking:{late['_id']}"]  # told by the community
    assert (await refused(world.service.cancel(late["_id"], staff=STAFF))).code == "not_active"
    early = await world.slot(capacity=2, ahead=timedelta(days=3))
    mine = (await world.service.book(early["_id"], ann)).booking
    assert (await world.service.cancel(mine["_id"], actor=ann))["cancelled_by"] == ann.id
    assert await world.booked(early["_id"]) == 0 and world.notifier.to(ann.id)[1:] == []


# -- proxy booking ------------------------------------------------------------------------------


async def test_a_linked_helper_books_for_an_elder(world):
    meal = await world.slot("elderly_meal", capacity=5, ahead=timedelta(days=1))
    helper, elder = await world.person("helper"), await world.person("mum", 1948)
    assert (await refused(world.service.book(meal["_id"], elder, booker=helper))).code == "not_linked"
    request = await world.service.request_link(helper, "family", "妈妈")
    assert (await refused(world.service.confirm_link(elder, "000000" if request["code"] != "000000" else "111111"))
            ).code == "bad_code"
    assert (await refused(world.service.confirm_link(helper, request["code"]))).code == "self_link"
    link = await world.service.confirm_link(elder, request["code"])
    assert link["status"] == "confirmed" and await world.service.is_linked(helper.id, elder.id)
    booking = (await world.service.book(meal["_id"], elder, booker=helper)).booking
    assert (booking["resident_id"], booking["booked_by"]) == (elder.id, helper.id)
    assert [(l["_id"], e.id) for l, e in await world.service.elders_of(helper)] == [(link["_id"], elder.id)]
    await world.service.cancel(booking["_id"], staff=STAFF)
    assert world.notifier.to(helper.id) and not world.notifier.to(elder.id)  # the helper made it


# -- attendance, rentals, erasure ---------------------------------------------------------------


async def test_attendance_once_the_booking_has_begun_publishes_once(world):
    slot = await world.slot(capacity=2, ahead=timedelta(days=1))
    person = await world.person("helper")
    booking = (await world.service.book(slot["_id"], person)).booking
    assert (await refused(world.service.mark_attendance(booking["_id"], "attended", STAFF))).code == "not_started"
    assert (await refused(world.service.mark_attendance(booking["_id"], "late", STAFF))).code == "bad_attendance"
    world.clock.now = slot["start"] + timedelta(minutes=10)
    done = await world.service.mark_attendance(booking["_id"], "attended", STAFF)
    again = await world.service.mark_attendance(booking["_id"], "attended", STAFF)
    assert done["attendance"] == again["attendance"] == "attended"
    attended = world.seen(BookingAttended)
    assert [(e.booking_id, e.service, e.staff_id) for e in attended] == [(booking["_id"], "volunteer", "staff-1")]


async def test_a_rental_needs_a_pickup_day_and_its_return_frees_the_unit(world):
    rental = await world.offering("rehab_rental")
    assert (await refused(world.service.create_slot(rental, T0, T0 + timedelta(hours=1), 1, None))).code == "rental"
    await world.service.open_slots_ahead()
    pools = {p["unit"]: p for p in await world.slots.for_service(rental["_id"])}
    chair = pools["wheelchair"]
    elder = await world.person("elder", 1950)
    assert (await refused(world.service.book(chair["_id"], elder))).code == "pickup_required"
    day = world.service.pickup_days(rental)[0]
    assert day == date(2026, 11, 24)  # 12 hours' notice: tomorrow's 09:00 is the first pickup
    booking = (await world.service.book(chair["_id"], elder, pickup=day)).booking
    assert booking["end"] - booking["start"] == timedelta(days=30) and await world.booked(chair["_id"]) == 1
    returned = await world.service.return_rental(booking["_id"], STAFF)
    assert returned["status"] == "returned" and await world.booked(chair["_id"]) == 0
    assert (await refused(world.service.return_rental(booking["_id"], STAFF))).code == "not_active"


async def test_erasure_releases_bookings_and_queue_places_without_a_notice(world):
    slot = await world.slot(capacity=1)
    gone, ann = await world.person("gone"), await world.person("ann")
    await world.service.book(slot["_id"], gone)
    other = await world.slot(capacity=1, ahead=timedelta(days=3))
    await world.service.book(other["_id"], ann)
    await world.service.book(other["_id"], gone, join_waitlist=True)
    assert await world.service.release_for_erasure(gone.id) == 2
    assert await world.booked(slot["_id"]) == 0 and await world.booked(other["_id"]) == 1
    assert world.notifier.to(gone.id) == [] and await world.service.release_for_erasure(gone.id) == 0


# -- staff slots, plans and reminders -----------------------------------------------------------


async def test_staff_slots_are_checked(world):
    volunteer = await world.offering("volunteer")
    start = T0 + timedelta(days=1)
    assert (await refused(world.service.create_slot(volunteer, start, start, 5, None))).code == "bad_time"
    assert (await refused(world.service.create_slot(volunteer, start, start + timedelta(hours=1), 0, None))
            ).code == "bad_capacity"
    await world.service.create_slot(volunteer, start, start + timedelta(hours=1), 5, None)
    assert (await refused(world.service.create_slot(volunteer, start, start + timedelta(hours=2), 5, None))
            ).code == "exists"
    assert (await refused(world.service.edit_slot("no-such-slot", title="x"))).code == "not_found"
    assert (await refused(world.service.edit_slot((await world.slot())["_id"], status="gone"))).code == "bad_status"


async def test_working_plans_open_slots_once(world):
    created = await world.service.open_slots_ahead(days=7)
    assert created > 0 and await world.service.open_slots_ahead(days=7) == 0
    meal = await world.offering("elderly_meal")
    assert len(await world.slots.for_service(meal["_id"])) == 14  # lunch and dinner on 7 days
    free = await world.service.free_slots(meal)
    assert free and all(s["start"] >= T0 + timedelta(minutes=120) for s in free)  # two hours' notice


async def test_tomorrows_bookings_are_reminded_once(world):
    tomorrow = await world.slot(capacity=3, ahead=timedelta(days=1))
    later = await world.slot(capacity=3, ahead=timedelta(days=3))
    ann, bob = await world.person("ann"), await world.person("bob")
    booking = (await world.service.book(tomorrow["_id"], ann)).booking
    await world.service.book(later["_id"], bob)
    assert await world.service.send_reminders() == 1 and await world.service.send_reminders() == 0
    assert [n["ref"] for n in world.notifier.to(ann.id)] == [f"booking:{booking['_id']}"]
    assert world.notifier.to(bob.id) == []


async def test_a_failing_notice_never_undoes_a_change(world):
    slot = await world.slot(capacity=1)
    first, ann = await world.person("first"), await world.person("ann")
    booking = (await world.service.book(slot["_id"], first)).booking
    entry = (await world.service.book(slot["_id"], ann, join_waitlist=True)).entry
    world.notifier.fail = True
    await world.service.cancel(booking["_id"], actor=first)
    assert (await world.waitlist.get(entry["_id"]))["status"] == "offered"
