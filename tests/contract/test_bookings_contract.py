"""Contract of the catalog, slot, booking, waitlist and link repositories: the real ones and
the fakes agree on the atomic rules BookingService relies on."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest
from pymongo.errors import DuplicateKeyError

from storage.booking_links import LINK_CODE_MAX_WRONG
from storage.bookings import (
    BOOKED, HOLDING, BookingRepository, CatalogRepository, LinkRepository, SlotRepository, WaitlistRepository,
)
from tests.contract import repository
from tests.fakes.bookings import (
    FakeBookingRepository, FakeCatalogRepository, FakeLinkRepository, FakeSlotRepository, FakeWaitlistRepository,
)

pytestmark = pytest.mark.contract

T0 = datetime(2026, 11, 23, 3, 30, tzinfo=timezone.utc)  # 11:30 in China


catalog = repository(CatalogRepository, FakeCatalogRepository)
links = repository(LinkRepository, FakeLinkRepository)
slots = repository(SlotRepository, FakeSlotRepository)
bookings = repository(BookingRepository, FakeBookingRepository)
waitlist = repository(WaitlistRepository, FakeWaitlistRepository)


def slot(start=T0, capacity=2, service_id="c1:elderly_meal", **fields) -> dict:
    return {"service_id": service_id, "service": service_id.split(":")[1], "community": "c1", "kind": "session",
            "start": start, "end": start + timedelta(hours=1) if start else None, "capacity": capacity,
            "booked": 0, "status": "open", "title": "午餐", **fields}


def booking(slot_id: str, resident: str, status=BOOKED, start=T0, **fields) -> dict:
    return {"slot_id": slot_id, "resident_id": resident, "status": status, "start": start,
            "end": start + timedelta(hours=1), "created_at": T0, **fields}


# -- slots ------------------------------------------------------------------------------


async def test_one_slot_per_service_time_and_unit(slots):
    first = await slots.insert(slot())
    assert (await slots.get(first["_id"]))["capacity"] == 2
    with pytest.raises(DuplicateKeyError):
        await slots.insert(slot())
    assert await slots.insert_if_missing(slot()) is False
    assert await slots.insert_if_missing(slot(start=T0 + timedelta(days=1))) is True
    assert await slots.insert_if_missing(slot(start=None, unit="wheelchair", kind="rental")) is True
    assert await slots.insert_if_missing(slot(start=None, unit="wheelchair", kind="rental")) is False
    assert await slots.get("no-such-slot") is None


async def test_places_are_taken_only_while_free_and_given_back_never_below_zero(slots):
    sid = (await slots.insert(slot(capacity=2)))["_id"]
    assert [await slots.take_place(sid) for _ in range(3)] == [True, True, False]
    assert (await slots.get(sid))["booked"] == 2
    assert [await slots.release_place(sid) for _ in range(3)] == [True, True, False]
    assert (await slots.get(sid))["booked"] == 0
    await slots.update_fields(sid, status="closed", capacity=99)  # only title, status and end change
    assert (await slots.get(sid))["capacity"] == 2
    assert await slots.take_place(sid) is False  # a closed slot


async def test_concurrent_takers_never_overbook(slots):
    sid = (await slots.insert(slot(capacity=5)))["_id"]
    taken = await asyncio.gather(*(slots.take_place(sid) for _ in range(30)))
    assert sum(taken) == 5 and (await slots.get(sid))["booked"] == 5


async def test_capacity_never_below_the_places_taken(slots):
    sid = (await slots.insert(slot(capacity=3)))["_id"]
    await slots.take_place(sid)
    await slots.take_place(sid)
    assert await slots.set_capacity(sid, 1) is False
    assert await slots.set_capacity(sid, 2) is True and await slots.take_place(sid) is False
    assert await slots.set_capacity(sid, 4) is True and await slots.take_place(sid) is True


async def test_waitlist_numbers_count_up_per_slot(slots):
    sid = (await slots.insert(slot()))["_id"]
    assert [await slots.next_wait_seq(sid) for _ in range(3)] == [1, 2, 3]
    with pytest.raises(KeyError):
        await slots.next_wait_seq("no-such-slot")


async def test_slot_listings(slots):
    late = (await slots.insert(slot(start=T0 + timedelta(hours=6), title="晚餐")))["_id"]
    early = (await slots.insert(slot(start=T0)))["_id"]
    full = (await slots.insert(slot(start=T0 + timedelta(days=1), capacity=1)))["_id"]
    await slots.take_place(full)
    closed = (await slots.insert(slot(start=T0 + timedelta(days=2), status="closed")))["_id"]
    other = (await slots.insert(slot(service_id="c2:elderly_meal", community="c2")))["_id"]
    pool = (await slots.insert(slot(start=None, kind="rental", unit="wheelchair",
                                    service_id="c1:rehab_rental")))["_id"]
    ids = lambda docs: [d["_id"] for d in docs]  # noqa: E731
    assert ids(await slots.for_service("c1:elderly_meal")) == [early, late, full]
    assert ids(await slots.for_service("c1:elderly_meal", open_only=False)) == [early, late, full, closed]
    assert ids(await slots.for_service("c1:elderly_meal", free_only=True)) == [early, late]
    window = await slots.for_service("c1:elderly_meal", T0 + timedelta(hours=1), T0 + timedelta(hours=7))
    assert ids(window) == [late]
    assert ids(await slots.for_service("c1:rehab_rental", T0, T0 + timedelta(days=1))) == [pool]
    roster = await slots.roster({"community": "c1"}, T0, T0 + timedelta(days=1))
    assert ids(roster) == [early, late]
    assert ids(await slots.roster({}, T0, T0 + timedelta(hours=1))) in ([early, other], [other, early])
    assert ids(await slots.pools({"community": "c1"})) == [pool] and await slots.pools({"community": "c2"}) == []
    renamed = await slots.update_fields(late, title="晚饭")
    assert renamed["title"] == "晚饭" and await slots.update_fields("no-such-slot", title="x") is None


# -- bookings ---------------------------------------------------------------------------


async def test_one_place_per_resident_and_slot_while_it_holds_one(bookings):
    first = await bookings.insert(booking("s1", "r1"))
    assert len(first["booking_no"]) == 8 and first["holds_place"] is True
    with pytest.raises(DuplicateKeyError):
        await bookings.insert(booking("s1", "r1", status=HOLDING))
    await bookings.insert(booking("s1", "r2"))
    cancelled = await bookings.transition(first["_id"], BOOKED, {"status": "cancelled"})
    assert cancelled["status"] == "cancelled" and "holds_place" not in cancelled
    again = await bookings.insert(booking("s1", "r1"))  # the cancelled one no longer holds a place
    assert (await bookings.place_holder("s1", "r1"))["_id"] == again["_id"]
    assert await bookings.transition(first["_id"], BOOKED, {"status": "cancelled"}) is None


async def test_a_hold_becomes_a_booking_or_is_dropped(bookings):
    hold = await bookings.insert(booking("s1", "r1", status=HOLDING))
    assert await bookings.active_of("s1", "r1") is None
    assert (await bookings.place_holder("s1", "r1"))["_id"] == hold["_id"]
    confirmed = await bookings.confirm_hold(hold["_id"])
    assert confirmed["status"] == BOOKED and confirmed["holds_place"] is True
    assert await bookings.confirm_hold(hold["_id"]) is None
    assert await bookings.drop_hold(hold["_id"]) is False  # not holding any more
    other = await bookings.insert(booking("s1", "r2", status=HOLDING))
    assert await bookings.drop_hold(other["_id"]) is True and await bookings.get(other["_id"]) is None


async def test_booking_listings_and_counts(bookings):
    mine = await bookings.insert(booking("s1", "r1", start=T0 + timedelta(days=1)))
    earlier = await bookings.insert(booking("s2", "r1", start=T0))
    for_mum = await bookings.insert(booking("s1", "mum", booked_by="r1", start=T0 + timedelta(days=2)))
    await bookings.insert(booking("s1", "r3", status=HOLDING))
    past = await bookings.insert(booking("s3", "r1", start=T0 - timedelta(days=3)))
    ids = lambda docs: [d["_id"] for d in docs]  # noqa: E731
    assert ids(await bookings.upcoming("r1", T0)) == [earlier["_id"], mine["_id"], for_mum["_id"]]
    assert sorted(ids(await bookings.active_for_resident("r1"))) == sorted(
        [mine["_id"], earlier["_id"], past["_id"]])
    assert await bookings.count_active("s1") == 2
    assert sorted(ids(await bookings.for_slot("s1"))) == sorted([mine["_id"], for_mum["_id"]])
    await bookings.transition(mine["_id"], BOOKED, {"status": "cancelled"})
    assert ids(await bookings.for_slot("s1", active_only=True)) == [for_mum["_id"]]
    assert len(await bookings.for_slot("s1")) == 2  # a cancelled booking is still listed, a hold is not


async def test_attendance_and_reminders_are_recorded_once(bookings):
    b = await bookings.insert(booking("s1", "r1"))
    assert (await bookings.set_attendance(b["_id"], "attended", {"attended_at": T0}))["attendance"] == "attended"
    assert await bookings.set_attendance(b["_id"], "attended", {}) is None
    assert (await bookings.set_attendance(b["_id"], "no_show", {}))["attendance"] == "no_show"
    due = await bookings.due_reminders(T0 - timedelta(hours=1), T0 + timedelta(hours=1))
    assert [d["_id"] for d in due] == [b["_id"]]
    assert (await bookings.claim_reminder(b["_id"], T0))["reminded_at"] == T0
    assert await bookings.claim_reminder(b["_id"], T0) is None
    assert await bookings.due_reminders(T0 - timedelta(hours=1), T0 + timedelta(hours=1)) == []


# -- waitlist ---------------------------------------------------------------------------


async def test_one_active_entry_per_resident_and_slot(waitlist):
    entry = await waitlist.insert({"slot_id": "s1", "resident_id": "r1", "seq": 1, "created_at": T0})
    assert entry["status"] == "waiting" and entry["active"] is True
    with pytest.raises(DuplicateKeyError):
        await waitlist.insert({"slot_id": "s1", "resident_id": "r1", "seq": 2, "created_at": T0})
    cancelled = await waitlist.settle(entry["_id"], "waiting", "cancelled", T0)
    assert cancelled["status"] == "cancelled" and "active" not in cancelled
    await waitlist.insert({"slot_id": "s1", "resident_id": "r1", "seq": 3, "created_at": T0})
    assert (await waitlist.active_of("s1", "r1"))["seq"] == 3
    assert await waitlist.settle(entry["_id"], "waiting", "cancelled", T0) is None


async def test_offers_go_in_queue_order_and_expire(waitlist):
    for seq, resident in ((2, "r2"), (1, "r1"), (3, "r3")):
        await waitlist.insert({"slot_id": "s1", "resident_id": resident, "seq": seq, "created_at": T0})
    assert await waitlist.has_waiting("s1") and not await waitlist.has_waiting("s2")
    assert [await waitlist.position(e) for e in await waitlist.for_slot("s1")] == [1, 2, 3]
    offer = await waitlist.offer_next("s1", T0, T0 + timedelta(minutes=30))
    assert offer["resident_id"] == "r1" and offer["status"] == "offered"
    assert await waitlist.count_offers("s1") == 1
    assert await waitlist.expired_offers(T0 + timedelta(minutes=29)) == []
    assert [e["_id"] for e in await waitlist.expired_offers(T0 + timedelta(minutes=30))] == [offer["_id"]]
    assert await waitlist.position(await waitlist.active_of("s1", "r3")) == 2
    assert await waitlist.settle(offer["_id"], "offered", "accepted", T0, {"resident_id": "r2"}) is None
    assert (await waitlist.settle(offer["_id"], "offered", "accepted", T0, booking_id="b1"))["booking_id"] == "b1"
    assert [e["resident_id"] for e in await waitlist.for_slot("s1")] == ["r2", "r3"]
    await waitlist.insert({"slot_id": "s9", "resident_id": "mum", "booked_by": "r2", "seq": 1, "created_at": T0})
    assert sorted(e["slot_id"] for e in await waitlist.for_resident("r2")) == ["s1", "s9"]


# -- catalog ----------------------------------------------------------------------------


async def test_catalog_lists_services_in_order_and_keeps_staff_changes(catalog):
    for community, code, order, active in (("c1", "meal", 2, True), ("c1", "haircut", 1, True),
                                           ("c1", "old", 3, False), ("c2", "meal", 1, True)):
        await catalog.insert_if_missing({"_id": f"{community}:{code}", "community": community, "code": code,
                                         "order": order, "active": active, "name": code})
    await catalog.insert_if_missing({"_id": "c1:meal", "community": "c1", "code": "meal", "order": 9,
                                     "active": False, "name": "changed"})
    assert (await catalog.get("c1:meal"))["name"] == "meal" and await catalog.get("c9:meal") is None
    assert [s["code"] for s in await catalog.for_community("c1")] == ["haircut", "meal"]
    assert [s["code"] for s in await catalog.for_community("c1", active_only=False)] == ["haircut", "meal", "old"]
    assert [s["_id"] for s in await catalog.in_scope({})] == ["c1:haircut", "c1:meal", "c1:old", "c2:meal"]
    assert sorted(s["_id"] for s in await catalog.active()) == ["c1:haircut", "c1:meal", "c2:meal"]


# -- resident links ---------------------------------------------------------------------


async def test_a_link_request_is_confirmed_once_by_its_code(links):
    request = await links.create_request("helper", "family", "妈妈", "c1", T0 + timedelta(hours=24), T0)
    assert request["status"] == "pending" and len(request["code"]) == 6
    assert (await links.pending_by_code(request["code"], T0))["_id"] == request["_id"]
    assert await links.pending_by_code(request["code"], T0 + timedelta(hours=25)) is None  # expired
    assert await links.is_linked("helper", "mum") is False
    link = await links.confirm(request["_id"], "mum", T0, confirmed_by="resident:mum")
    assert link["status"] == "confirmed" and link["elder_id"] == "mum" and "code" not in link
    assert await links.confirm(request["_id"], "mum", T0, confirmed_by="resident:mum") is None
    assert await links.pending_by_code(request["code"], T0) is None
    assert await links.is_linked("helper", "mum") and not await links.is_linked("mum", "helper")
    assert [link["_id"] for link in await links.confirmed_for_helper("helper")] == [link["_id"]]


async def test_a_second_link_of_the_same_pair_is_merged_into_the_first(links):
    first = await links.create_confirmed("helper", "mum", "family", None, "c1", T0, confirmed_by="staff:s1")
    assert (await links.create_confirmed("helper", "mum", "family", None, "c1", T0, "staff:s1"))["_id"] == first["_id"]
    request = await links.create_request("helper", "family", None, "c1", T0 + timedelta(hours=24), T0)
    merged = await links.confirm(request["_id"], "mum", T0, confirmed_by="resident:mum")
    assert merged["_id"] == first["_id"] and (await links.get(request["_id"]))["status"] == "merged"


async def test_wrong_guesses_wear_out_every_live_code(links):
    request = await links.create_request("helper", "family", None, "c1", T0 + timedelta(hours=24), T0)
    for _ in range(LINK_CODE_MAX_WRONG - 1):
        await links.count_wrong_guess(T0)
    assert await links.pending_by_code(request["code"], T0) is not None
    await links.count_wrong_guess(T0)
    assert await links.pending_by_code(request["code"], T0) is None


async def test_links_are_listed_and_revoked_within_a_scope(links):
    pending = await links.create_request("helper", "volunteer", None, "c1", T0 + timedelta(hours=24), T0)
    confirmed = await links.create_confirmed("helper", "mum", "family", None, "c1", T0 + timedelta(minutes=1),
                                             confirmed_by="staff:s1")
    assert [link["_id"] for link in await links.for_resident("helper")] == [confirmed["_id"], pending["_id"]]
    assert [link["_id"] for link in await links.for_resident("mum")] == [confirmed["_id"]]
    assert [link["_id"] for link in await links.in_scope({"community": "c1"}, "pending")] == [pending["_id"]]
    assert await links.revoke(confirmed["_id"], T0, {"community": "c2"}) is None
    revoked = await links.revoke(confirmed["_id"], T0, {"community": "c1"})
    assert revoked["status"] == "revoked" and not await links.is_linked("helper", "mum")
    assert await links.revoke(confirmed["_id"], T0, {}) is None
    assert [link["_id"] for link in await links.for_resident("mum")] == []
