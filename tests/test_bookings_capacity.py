"""Booking capacity against the real MongoDB-compatible server (tests/bookings_helpers.py):
hundreds of concurrent requests for a few places, one place per resident in a slot, crashed
attempts, concurrent cancellations and the unique indexes, old and new."""
from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from pymongo.errors import DuplicateKeyError

from services.booking_rules import BookingRefused
from storage.bookings import ensure_indexes
from tests.bookings_helpers import a_slot, invariant, resident, setup, staff  # noqa: F401  (fixture)


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
