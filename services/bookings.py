"""Booking community services: the rules between chat/API/console and the repositories.

- Capacity: a place is taken with one conditional `$inc` on the slot (never more than
  `capacity`). Before that the booking is written as `holding`; a partial unique index
  admits one holding/active booking per resident and slot, so a resident's repeated
  taps are refused as duplicates and never take places from others.
- A freed place (cancellation, declined or expired offer, returned rental) goes to the
  first on the waitlist as an offer holding the place for `offer_minutes`; only when
  nobody waits does the counter go down. So `slot.booked` always equals active
  bookings + open offers, whatever runs concurrently.
- Rules per service: booking window, minimum notice, cancellation cutoff, eligibility.

BookingService is one class in parts: booking, cancelling, what a resident has and proxy
links here; the waitlist in services/booking_waitlist.py, what staff do in
services/booking_staff.py, the refusals and rules in services/booking_rules.py.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

from pymongo.errors import DuplicateKeyError

from services import eligibility, events
from services.booking_rules import (
    BookingRefused, BookResult, already_booked, event_payload, in_order, rules_of,
)
from services.booking_staff import BookingStaffWork
from services.booking_times import Wanted, booking_when, minutes_text, rank_slots
from services.booking_waitlist import BookingWaitlist
from storage.booking_catalog import TZ
from storage.bookings import (
    ACTIVE_WAIT, BOOKED, HOLDING, BookingRepository, CatalogRepository, LinkRepository, SlotRepository, WaitlistRepository,
)
from storage.residents import Resident, ResidentRepository

log = logging.getLogger(__name__)

LINK_CODE_HOURS = 24
STALE_HOLD = timedelta(minutes=2)  # a HOLDING booking this old was left by a crash


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class BookingService(BookingWaitlist, BookingStaffWork):
    def __init__(self, catalog: CatalogRepository, slots: SlotRepository, bookings: BookingRepository,
                 waitlist: WaitlistRepository, links: LinkRepository, residents: ResidentRepository, *,
                 bus: events.EventBus, notifier: Any = None, clock: Callable[[], datetime] = _utcnow) -> None:
        """`notifier` is a services.notify.Notifier (or None: nobody is told)."""
        self.bus = bus
        self.catalog, self.slots, self.bookings, self.waitlist = catalog, slots, bookings, waitlist
        self.links, self.residents, self.notifier, self.clock = links, residents, notifier, clock

    # ---- catalog and slots -------------------------------------------------------------

    # -- what the web layer reads (the repositories stay behind the service) --------------
    async def slot(self, slot_id: str) -> dict[str, Any] | None:
        return await self.slots.get(slot_id)

    async def roster(self, scope: dict[str, Any], start: datetime, end: datetime,
                     service_id: str | None = None) -> list[dict[str, Any]]:
        return await self.slots.roster(scope, start, end, service_id)

    async def rental_pools(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.slots.pools(scope)

    async def booking(self, booking_id: str) -> dict[str, Any] | None:
        return await self.bookings.get(booking_id)

    async def waitlist_entry(self, entry_id: str) -> dict[str, Any] | None:
        return await self.waitlist.get(entry_id)

    async def slot_bookings(self, slot_id: str) -> list[dict[str, Any]]:
        return await self.bookings.for_slot(slot_id)

    async def slot_queue(self, slot_id: str) -> list[dict[str, Any]]:
        return await self.waitlist.for_slot(slot_id)

    async def service(self, service_id: str) -> dict[str, Any] | None:
        return await self.catalog.get(service_id)

    async def services_in_scope(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.catalog.in_scope(scope)

    async def resident(self, resident_id: str) -> Resident | None:
        return await self.residents.get(resident_id)

    async def links_of(self, resident_id: str) -> list[dict[str, Any]]:
        return await self.links.for_resident(resident_id)

    async def links_in_scope(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return await self.links.in_scope(scope)

    async def is_linked(self, helper_id: str, elder_id: str) -> bool:
        return await self.links.is_linked(helper_id, elder_id)

    async def revoke_link(self, link_id: str, scope: dict[str, Any]) -> dict[str, Any] | None:
        return await self.links.revoke(link_id, self.clock(), scope)

    async def link_confirmed(self, helper_id: str, elder_id: str, relation: str, label: str | None,
                             community: str, **extra: Any) -> dict[str, Any]:
        """A link staff confirmed in person (no code)."""
        return await self.links.create_confirmed(helper_id, elder_id, relation, label, community, self.clock(),
                                                 **extra)


    async def services_for(self, community: str) -> list[dict[str, Any]]:
        return await self.catalog.for_community(community)

    async def service_by_code(self, community: str, code: str) -> dict[str, Any] | None:
        service = await self.catalog.get(f"{community}:{code}")
        return service if service and service.get("active", True) else None

    def bookable_range(self, service: dict[str, Any], now: datetime) -> tuple[datetime, datetime]:
        rules = rules_of(service)
        return now + timedelta(minutes=rules["min_notice_minutes"]), now + timedelta(days=rules["window_days"])

    async def free_slots(self, service: dict[str, Any], now: datetime | None = None) -> list[dict[str, Any]]:
        """Open slots with a free place that can still be booked (rental pools included)."""
        now = now or self.clock()
        start_from, start_to = self.bookable_range(service, now)
        return in_order(service, await self.slots.for_service(service["_id"], start_from, start_to, free_only=True))

    async def open_slots(self, service: dict[str, Any], now: datetime | None = None) -> list[dict[str, Any]]:
        """Bookable slots, full ones included (a full one can be waited for)."""
        now = now or self.clock()
        start_from, start_to = self.bookable_range(service, now)
        return in_order(service, await self.slots.for_service(service["_id"], start_from, start_to))

    async def suggest(self, service: dict[str, Any], wanted: Wanted | None, limit: int = 5) -> list[dict[str, Any]]:
        """The free slots nearest to what the resident asked for."""
        return rank_slots(await self.free_slots(service), wanted, limit)

    def pickup_days(self, service: dict[str, Any], now: datetime | None = None, count: int = 5) -> list[date]:
        """Days a rental can be picked up on (respecting notice and window)."""
        now = now or self.clock()
        start_from, start_to = self.bookable_range(service, now)
        days, day = [], start_from.astimezone(TZ).date()
        while len(days) < count and self.pickup_at(service, day) <= start_to:
            if self.pickup_at(service, day) >= start_from:
                days.append(day)
            day += timedelta(days=1)
        return days

    @staticmethod
    def pickup_at(service: dict[str, Any], day: date) -> datetime:
        """When a rental can be picked up on `day` (the service's first pickup hour)."""
        hour, minute = (int(p) for p in (service.get("pickup_hours") or ["09:00"])[0].split(":"))
        return datetime.combine(day, time(hour, minute), tzinfo=TZ)

    # ---- eligibility and rules -----------------------------------------------------------

    def eligibility(self, service: dict[str, Any], person: Resident) -> eligibility.Verdict:
        return eligibility.check(service.get("eligibility"), person, self.clock().astimezone(TZ).date(),
                                 service.get("name", "这项服务"))

    def _when(self, service: dict[str, Any], slot: dict[str, Any], pickup: date | None) -> tuple[datetime, datetime]:
        if slot.get("start") is not None:
            return slot["start"], slot.get("end") or slot["start"]
        if pickup is None:
            raise BookingRefused("pickup_required", "请选择领取日期。", "a rental needs a pickup date")
        start = self.pickup_at(service, pickup)
        return start, start + timedelta(days=int(service.get("loan_days", 30)))

    def _check_timing(self, service: dict[str, Any], start: datetime, now: datetime) -> None:
        rules = rules_of(service)
        if start <= now:
            raise BookingRefused("past", "这个时间已经过去了，请换一个时间。", "the slot has already started")
        if start < now + timedelta(minutes=rules["min_notice_minutes"]):
            notice = minutes_text(rules["min_notice_minutes"])
            raise BookingRefused("too_soon", f"{service['name']}需要提前{notice}预约，这个时间来不及了，请换一个时间。",
                                 "minimum notice not met")
        if start > now + timedelta(days=rules["window_days"]):
            raise BookingRefused("too_far", f"{service['name']}最多只能预约{rules['window_days']}天内的时间。",
                                 "outside the booking window")

    async def _check_booker(self, resident: Resident, booker: Resident | None) -> None:
        if booker is not None and booker.id != resident.id and not await self.links.is_linked(booker.id, resident.id):
            raise BookingRefused("not_linked", "您还没有和这位老人绑定，不能替他预约。", "no confirmed link to this resident")

    # ---- booking -------------------------------------------------------------------------

    async def book(self, slot_id: str, resident: Resident, *, booker: Resident | None = None,
                   user_key: str | None = None, channel: str = "chat", join_waitlist: bool = False,
                   pickup: date | None = None) -> BookResult:
        """Book a place for `resident` (by `booker` when booking for a linked elder).
        Raises BookingRefused; a full slot is joined as a waitlist entry when asked."""
        now = self.clock()
        slot = await self.slots.get(slot_id)
        service = await self.catalog.get(slot["service_id"]) if slot else None
        if slot is None or service is None:
            raise BookingRefused("not_found", "没有找到这个时段，请重新选择。", "no such slot")
        await self._check_booker(resident, booker)
        if slot.get("status") != "open" or not service.get("active", True):
            raise BookingRefused("closed", "这个时段已停止预约，请换一个时间。", "slot is closed")
        start, end = self._when(service, slot, pickup)
        self._check_timing(service, start, now)
        verdict = self.eligibility(service, resident)
        if not verdict.ok:
            raise BookingRefused(verdict.reason or "ineligible", verdict.text, f"not eligible: {verdict.reason}")
        if await self.bookings.active_of(slot["_id"], resident.id):
            raise already_booked()
        entry = await self.waitlist.active_of(slot["_id"], resident.id)
        if entry is not None:
            if entry["status"] == "offered":
                booking = await self.accept_offer(entry["_id"], booker or resident)
                return BookResult("booked", booking=booking)
            return BookResult("waitlisted", entry=entry, position=await self.waitlist.position(entry))
        if slot["booked"] >= slot["capacity"]:  # full when we looked: no hold to write and delete
            return await self._when_full(service, slot, resident, booker, user_key, channel, pickup, now,
                                         join_waitlist)
        doc = self._booking_doc(service, slot, resident, booker, user_key, channel, start, end, now, status=HOLDING)
        held = await self._hold(doc, now)
        if await self.slots.take_place(slot["_id"]):
            booking = await self.bookings.confirm_hold(held["_id"])
            if booking is None:  # dropped as stale meanwhile (only after a very long pause)
                await self._free_place(slot)
                raise BookingRefused("busy", "系统繁忙，请再试一次。", "holding booking vanished")
            await self.bus.publish(events.BookingCreated(**event_payload(booking)))
            return BookResult("booked", booking=booking)
        await self.bookings.drop_hold(held["_id"])
        return await self._when_full(service, slot, resident, booker, user_key, channel, pickup, now, join_waitlist)

    async def _when_full(self, service: dict[str, Any], slot: dict[str, Any], resident: Resident,
                         booker: Resident | None, user_key: str | None, channel: str, pickup: date | None,
                         now: datetime, join_waitlist: bool) -> BookResult:
        if not join_waitlist:
            raise BookingRefused("full", "这个时段已经约满了。", "slot is full")
        return await self._join_waitlist(service, slot, resident, booker, user_key, channel, pickup, now)

    async def _hold(self, doc: dict[str, Any], now: datetime) -> dict[str, Any]:
        """Write the booking as HOLDING before taking a place: the unique index admits one
        per resident and slot, so a resident's concurrent taps are refused as duplicates
        instead of taking (and briefly filling) places meant for others."""
        for _ in range(3):
            try:
                return await self.bookings.insert(doc)
            except DuplicateKeyError:
                holder = await self.bookings.place_holder(doc["slot_id"], doc["resident_id"])
            if holder is None:  # the other attempt got no place and let go: try again
                continue
            if holder["status"] == HOLDING and holder["created_at"] < now - STALE_HOLD:
                await self.bookings.drop_hold(holder["_id"])  # left behind by a crashed worker
                continue
            raise already_booked()
        raise BookingRefused("busy", "系统繁忙，请再试一次。", "place holder changed concurrently")

    def _booking_doc(self, service: dict[str, Any], slot: dict[str, Any], resident: Resident,
                     booker: Resident | None, user_key: str | None, channel: str, start: datetime,
                     end: datetime, now: datetime, status: str = BOOKED) -> dict[str, Any]:
        proxy = booker is not None and booker.id != resident.id
        return {
            "slot_id": slot["_id"], "service_id": service["_id"], "service": service["code"],
            "service_name": service["name"], "community": slot["community"], "kind": slot.get("kind", "session"),
            "unit": slot.get("unit"), "title": slot.get("title"), "location": service.get("location"),
            "resident_id": resident.id, "booked_by": booker.id if proxy else None,
            "user_key": user_key, "channel": channel, "start": start, "end": end,
            "status": status, "attendance": None, "reminded_at": None, "created_at": now,
            # Services gated by age / disability: did staff verify the facts it rests on? (待核实)
            "eligibility_verified": resident.facts_verified if eligibility.needs_age(service.get("eligibility") or {})
            else None,
        }

    # ---- cancelling (the waitlist and the offers of freed places: services/booking_waitlist.py) ----

    async def cancel(self, booking_id: str, *, actor: Resident | None = None, staff: Any = None,
                     reason: str | None = None) -> dict[str, Any]:
        """Cancel an active booking (residents before the cutoff; staff any time)."""
        now = self.clock()
        booking = await self.bookings.get(booking_id)
        if booking is None or (actor is not None and actor.id not in (booking["resident_id"], booking.get("booked_by"))):
            raise BookingRefused("not_found", "没有找到这个预约。", "no such booking")
        if booking["status"] != BOOKED:
            raise BookingRefused("not_active", "这个预约已经取消或结束了。", "booking is not active")
        service = await self.catalog.get(booking["service_id"]) or {"name": booking.get("service_name", "")}
        cutoff = rules_of(service)["cancel_cutoff_minutes"]
        if staff is None and now > booking["start"] - timedelta(minutes=cutoff):
            raise BookingRefused(
                "too_late", f"{service['name']}需要在开始前{minutes_text(cutoff)}取消，现在已经过了取消时间。"
                            "确实来不了，请打社区电话说一声。", "past the cancellation cutoff")
        done = await self.bookings.transition(booking["_id"], BOOKED, {
            "status": "cancelled", "cancelled_at": now, "cancel_reason": reason,
            "cancelled_by": f"staff:{staff.id}" if staff is not None else (actor.id if actor else None),
        })
        if done is None:
            raise BookingRefused("not_active", "这个预约已经取消或结束了。", "booking is not active")
        await self._release(booking["slot_id"])
        if staff is not None:
            await self._notify(booking, f"【邻里】您预约的{booking['service_name']}（{booking_when(booking)}）"
                                        f"已被社区取消{('，原因：' + reason) if reason else ''}。给您添麻烦了。",
                               ref=f"booking:{booking['_id']}")
        await self.bus.publish(events.BookingCancelled(**event_payload(done)))
        return done

    async def release_for_erasure(self, resident_id: str) -> int:
        """PIPL erasure: cancel the resident's active bookings and waitlist entries without
        a notice (they are gone), freeing their places for the next in line. How many."""
        now, count = self.clock(), 0
        for booking in await self.bookings.active_for_resident(resident_id):
            done = await self.bookings.transition(booking["_id"], BOOKED, {
                "status": "cancelled", "cancelled_at": now, "cancel_reason": "居民已注销账号", "cancelled_by": None,
            })
            if done is None:
                continue
            count += 1
            await self._release(booking["slot_id"])
            await self.bus.publish(events.BookingCancelled(**event_payload(done)))
        for entry in await self.waitlist.for_resident(resident_id):
            if entry.get("resident_id") != resident_id:
                continue
            status = entry.get("status")
            if status in ACTIVE_WAIT and await self.waitlist.settle(entry["_id"], status, "cancelled", now):
                count += 1
                if status == "offered":  # an offer held a place
                    await self._release(entry["slot_id"])
        return count

    # ---- what a resident has -----------------------------------------------------------

    async def mine(self, resident: Resident) -> dict[str, list[dict[str, Any]]]:
        """Upcoming bookings, open offers and queue places of a resident (and of the
        elders they booked for)."""
        await self.expire_offers()
        now = self.clock()
        bookings = await self.bookings.upcoming(resident.id, now)
        offers, waiting = [], []
        for entry in await self.waitlist.for_resident(resident.id):
            slot = await self.slots.get(entry["slot_id"])
            entry["slot"] = slot
            if entry["status"] == "offered":
                offers.append(entry)
            else:
                entry["position"] = await self.waitlist.position(entry)
                waiting.append(entry)
        return {"bookings": bookings, "offers": offers, "waiting": waiting}

    # ---- notices (staff's slots, attendance, returns, reminders: services/booking_staff.py) ----

    async def _notify(self, record: dict[str, Any], text: str, ref: str) -> None:
        """Tell whoever made a booking or queued (the helper for proxy bookings), on the
        channel they used."""
        if self.notifier is None:
            return
        resident_id = record.get("booked_by") or record.get("resident_id")
        try:
            await self.notifier.notify(text=text, resident_id=resident_id, user_key=record.get("user_key"),
                                       channel=record.get("channel"), ref=ref)
        except Exception:  # a failed notice must not undo the booking change
            log.exception("notice %s to %s failed", ref, resident_id)

    # ---- resident links (proxy booking) --------------------------------------------------

    async def request_link(self, helper: Resident, relation: str, label: str | None) -> dict[str, Any]:
        """A helper asks to book for an elder: returns the pending link with the code the elder enters."""
        now = self.clock()
        return await self.links.create_request(helper.id, relation, label, helper.community,
                                               now + timedelta(hours=LINK_CODE_HOURS), now)

    async def confirm_link(self, elder: Resident, code: str) -> dict[str, Any]:
        """The elder enters the helper's code: the helper may now book for them."""
        now = self.clock()
        request = await self.links.pending_by_code(code, now)
        if request is None:
            await self.links.count_wrong_guess(now)
            raise BookingRefused("bad_code", "验证码不对或已过期，请让家人重新获取。", "unknown or expired link code")
        if request["helper_id"] == elder.id:
            raise BookingRefused("self_link", "不能和自己绑定。", "a resident cannot link to themselves")
        link = await self.links.confirm(request["_id"], elder.id, now, confirmed_by=f"resident:{elder.id}")
        if link is None:
            raise BookingRefused("bad_code", "验证码不对或已过期，请让家人重新获取。", "link request no longer pending")
        return link

    async def elders_of(self, helper: Resident) -> list[tuple[dict[str, Any], Resident]]:
        """Confirmed links of a helper with the elders' records."""
        found = []
        for link in await self.links.confirmed_for_helper(helper.id):
            elder = await self.residents.get(link["elder_id"])
            if elder is not None:
                found.append((link, elder))
        return found


__all__ = ["BookingService"]
