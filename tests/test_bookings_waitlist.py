"""The booking waitlist against the real MongoDB-compatible server (tests/bookings_helpers.py):
a freed place is offered to the first waiting and held for the offer; an expired or declined
offer passes to the next; more places serve the queue."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.booking_rules import BookingRefused
from storage.notices import NoticeRepository
from tests.bookings_helpers import a_slot, invariant, resident, setup  # noqa: F401  (fixture)


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
