"""The waitlist part of BookingService (mixed into services.bookings.BookingService).

A freed place (cancellation, declined or expired offer, returned rental) goes to the first
on the waitlist as an offer holding the place for the service's `offer_minutes`; only when
nobody waits does the slot's counter go down, so `slot.booked` always equals active
bookings + open offers. An offer is accepted into a booking, declined, or runs out.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from services import events
from services.booking_rules import BookingRefused, BookResult, already_booked, event_payload, rules_of
from services.booking_times import slot_label
from storage.booking_catalog import TZ
from storage.residents import Resident


class BookingWaitlist:
    """Queueing for a full slot and the offers of freed places. Mixed into
    services.bookings.BookingService, whose repositories (catalog, slots, bookings, waitlist,
    residents), bus, clock, `_notify` and booking-document helpers it uses."""

    async def _join_waitlist(self, service: dict[str, Any], slot: dict[str, Any], resident: Resident,
                             booker: Resident | None, user_key: str | None, channel: str,
                             pickup: date | None, now: datetime) -> BookResult:
        seq = await self.slots.next_wait_seq(slot["_id"])
        proxy = booker is not None and booker.id != resident.id
        try:
            entry = await self.waitlist.insert({
                "slot_id": slot["_id"], "service_id": service["_id"], "service": service["code"],
                "service_name": service["name"], "community": slot["community"], "resident_id": resident.id,
                "booked_by": booker.id if proxy else None, "user_key": user_key, "channel": channel,
                "pickup": pickup.isoformat() if pickup else None, "seq": seq, "created_at": now,
            })
        except DuplicateKeyError:
            entry = await self.waitlist.active_of(slot["_id"], resident.id)
            if entry is None:
                raise BookingRefused("busy", "系统繁忙，请再试一次。", "waitlist entry changed concurrently")
        # A place may have been freed while we queued: fill it from the queue (maybe with us).
        await self._fill(slot)
        entry = await self.waitlist.get(entry["_id"]) or entry
        if entry.get("status") == "offered":
            booking = await self.accept_offer(entry["_id"], booker or resident)
            return BookResult("booked", booking=booking)
        return BookResult("waitlisted", entry=entry, position=await self.waitlist.position(entry))

    async def _fill(self, slot: dict[str, Any]) -> None:
        """While places are free and people wait, offer the places in queue order."""
        while await self.waitlist.has_waiting(slot["_id"]):
            if not await self.slots.take_place(slot["_id"]):
                return
            if await self._offer_next(slot) is None:
                await self.slots.release_place(slot["_id"])
                return

    async def _release(self, slot_id: str) -> None:
        """The place a booking or an offer held in `slot_id` is free again (`_free_place`)."""
        slot = await self.slots.get(slot_id)
        if slot is not None:
            await self._free_place(slot)

    async def _free_place(self, slot: dict[str, Any]) -> None:
        """A held place became free: offer it to the first waiting, else give it back."""
        if await self._offer_next(slot) is not None:
            return
        await self.slots.release_place(slot["_id"])
        # Someone may have queued between our look and the release: let them have it.
        if await self.waitlist.has_waiting(slot["_id"]):
            await self._fill(slot)

    async def _offer_next(self, slot: dict[str, Any]) -> dict[str, Any] | None:
        """Offer the held place to the first waiting entry, if there is time to take it up."""
        now = self.clock()
        service = await self.catalog.get(slot["service_id"]) or {}
        rules = rules_of(service)
        expires = now + timedelta(minutes=rules["offer_minutes"])
        if slot.get("start") is not None:
            expires = min(expires, slot["start"])
            if expires - now < timedelta(minutes=5) or slot.get("status") != "open":
                return None
        entry = await self.waitlist.offer_next(slot["_id"], now, expires)
        if entry is not None:
            when = slot_label(slot, now)
            who = "您候补的" if not entry.get("booked_by") else "您为家人候补的"
            await self._notify(entry, f"【邻里】{who}{entry['service_name']}（{when}）有名额了，"
                                      f"已为您保留到{expires.astimezone(TZ):%m月%d日 %H:%M}。"
                                      "回复 4 打开“我的预约”确认，过时名额会让给下一位。",
                               ref=f"waitlist:{entry['_id']}")
        return entry

    async def accept_offer(self, entry_id: str, actor: Resident) -> dict[str, Any]:
        """Turn an open offer into a booking (the place is already held for it)."""
        now = self.clock()
        entry = await self._own_entry(entry_id, actor)
        settled = await self.waitlist.settle(entry["_id"], "offered", "accepted", now,
                                             extra_filter={"offer_expires_at": {"$gt": now}})
        if settled is None:
            await self.expire_offers()
            raise BookingRefused("offer_gone", "这个候补名额已经过期或处理过了。", "offer expired or already settled")
        slot = await self.slots.get(entry["slot_id"])
        service = await self.catalog.get(entry["service_id"])
        resident = await self.residents.get(entry["resident_id"])
        if slot is None or service is None or resident is None:
            raise BookingRefused("not_found", "没有找到这个时段。", "slot or resident vanished")
        booker = await self.residents.get(entry["booked_by"]) if entry.get("booked_by") else None
        pickup = date.fromisoformat(entry["pickup"]) if entry.get("pickup") else None
        if slot.get("start") is None and (pickup is None or self.pickup_at(service, pickup) <= now):
            pickup = (self.pickup_days(service, now, 1) or [now.astimezone(TZ).date() + timedelta(days=1)])[0]
        start, end = self._when(service, slot, pickup)
        doc = self._booking_doc(service, slot, resident, booker, entry.get("user_key"), entry.get("channel", "chat"),
                                start, end, now)
        doc["via_waitlist"] = True
        try:
            booking = await self.bookings.insert(doc)
        except DuplicateKeyError:
            await self._free_place(slot)
            raise already_booked()
        await self.waitlist.settle(entry["_id"], "accepted", "accepted", now, booking_id=booking["_id"])
        await self.bus.publish(events.BookingCreated(**event_payload(booking)))
        return booking

    async def decline_offer(self, entry_id: str, actor: Resident) -> dict[str, Any]:
        """Give up an offer or leave the queue."""
        now = self.clock()
        entry = await self._own_entry(entry_id, actor)
        if entry["status"] == "waiting":
            done = await self.waitlist.settle(entry["_id"], "waiting", "cancelled", now)
            if done is not None:
                return done
            entry = await self.waitlist.get(entry["_id"]) or entry
        done = await self.waitlist.settle(entry["_id"], "offered", "declined", now)
        if done is None:
            raise BookingRefused("offer_gone", "这个候补已经处理过了。", "entry is no longer active")
        await self._release(entry["slot_id"])
        return done

    async def expire_offers(self) -> int:
        """Close offers past their time and pass each place on; returns how many expired."""
        now, count = self.clock(), 0
        for entry in await self.waitlist.expired_offers(now):
            done = await self.waitlist.settle(entry["_id"], "offered", "expired", now,
                                              extra_filter={"offer_expires_at": {"$lte": now}})
            if done is None:
                continue
            count += 1
            await self._notify(entry, f"【邻里】您候补的{entry['service_name']}名额超过保留时间没有确认，"
                                      "已经让给下一位了。", ref=f"waitlist:{entry['_id']}")
            await self._release(entry["slot_id"])
        return count

    async def _own_entry(self, entry_id: str, actor: Resident) -> dict[str, Any]:
        entry = await self.waitlist.get(entry_id)
        if entry is None or actor.id not in (entry.get("resident_id"), entry.get("booked_by")):
            raise BookingRefused("not_found", "没有找到这条候补。", "no such waitlist entry")
        return entry
