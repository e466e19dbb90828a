"""What staff do with bookings (mixed into services.bookings.BookingService): slots they
create and change, the working plans opening slots ahead, attendance, rental returns, the
待核实 mark lifted once a resident's facts are verified, and the reminders of tomorrow's bookings."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from services import events
from services.booking_rules import ATTENDANCE, BookingRefused, event_payload, rules_of
from services.booking_times import booking_when, minutes_text
from storage.booking_catalog import TZ, new_slot
from storage.bookings import BOOKED, open_slots_ahead


class BookingStaffWork:
    """Slots, attendance, returns and reminders. Mixed into services.bookings.BookingService,
    whose repositories (catalog, slots, bookings), bus, clock, `_notify` and waitlist
    (`_fill`, `_release`) it uses."""

    async def mark_attendance(self, booking_id: str, attendance: str, staff: Any) -> dict[str, Any]:
        """Staff record attended / no_show once the booking has begun (rentals: picked up)."""
        if attendance not in ATTENDANCE:
            raise BookingRefused("bad_attendance", "签到状态不正确。", "attendance must be attended or no_show")
        now = self.clock()
        booking = await self.bookings.get(booking_id)
        if booking is None or booking["status"] != BOOKED:
            raise BookingRefused("not_active", "这个预约已经取消或结束了。", "booking is not active")
        if now < booking["start"] - timedelta(hours=1):
            raise BookingRefused("not_started", "还没到预约时间，不能签到。", "booking has not started")
        done = await self.bookings.set_attendance(booking["_id"], attendance,
                                                  {"attendance_at": now, "attendance_by": staff.id})
        if done is None:
            return await self.bookings.get(booking_id) or booking
        if attendance == "attended":
            await self.bus.publish(events.BookingAttended(**event_payload(done), staff_id=staff.id))
        return done

    async def return_rental(self, booking_id: str, staff: Any) -> dict[str, Any]:
        """A rented aid came back: the booking ends and the unit is free again."""
        booking = await self.bookings.get(booking_id)
        if booking is None or booking.get("kind") != "rental":
            raise BookingRefused("not_found", "没有找到这条租借记录。", "no such rental")
        done = await self.bookings.transition(booking["_id"], BOOKED, {
            "status": "returned", "returned_at": self.clock(), "returned_by": staff.id})
        if done is None:
            raise BookingRefused("not_active", "这件辅具已经归还或取消了。", "rental is not active")
        await self._release(booking["slot_id"])
        return done

    async def create_slot(self, service: dict[str, Any], start: datetime, end: datetime, capacity: int,
                          title: str | None) -> dict[str, Any]:
        if service.get("kind") == "rental":
            raise BookingRefused("rental", "辅具租赁按件数管理，不用建时段。", "rental services have no time slots")
        if end <= start:
            raise BookingRefused("bad_time", "结束时间要晚于开始时间。", "end must be after start")
        if not 1 <= capacity <= 1000:
            raise BookingRefused("bad_capacity", "名额要在1到1000之间。", "capacity must be 1..1000")
        try:
            return await self.slots.insert(new_slot(service, start, end, capacity, title))
        except DuplicateKeyError:
            raise BookingRefused("exists", "这个服务在这个时间已经有时段了。", "a slot already starts then") from None

    async def edit_slot(self, slot_id: str, *, capacity: int | None = None, title: str | None = None,
                        status: str | None = None) -> dict[str, Any]:
        slot = await self.slots.get(slot_id)
        if slot is None:
            raise BookingRefused("not_found", "没有找到这个时段。", "no such slot")
        if capacity is not None:
            if not 1 <= capacity <= 1000:
                raise BookingRefused("bad_capacity", "名额要在1到1000之间。", "capacity must be 1..1000")
            if not await self.slots.set_capacity(slot["_id"], capacity):
                raise BookingRefused("below_booked", f"已经有{slot['booked']}人占了名额，名额不能少于这个数。",
                                     "capacity below places taken")
        changes: dict[str, Any] = {}
        if title is not None:
            changes["title"] = title or None
        if status is not None:
            if status not in ("open", "closed"):
                raise BookingRefused("bad_status", "状态只能是开放或停止预约。", "status must be open or closed")
            changes["status"] = status
        if changes:
            await self.slots.update_fields(slot["_id"], **changes)
        slot = await self.slots.get(slot["_id"]) or slot
        if slot.get("status") == "open":
            await self._fill(slot)  # more places (or reopened): serve the queue
        return await self.slots.get(slot["_id"]) or slot

    async def facts_verified(self, resident_id: str) -> int:
        """Staff saw the resident's documents: their bookings lose the 待核实 mark (how many did)."""
        return await self.bookings.mark_eligibility_verified(resident_id)

    async def open_slots_ahead(self, days: int = 14) -> int:
        return await open_slots_ahead(self.catalog, self.slots, self.clock().astimezone(TZ).date(), days)

    async def send_reminders(self) -> int:
        """Remind everyone booked for tomorrow (Asia/Shanghai), once each."""
        now = self.clock()
        tomorrow = now.astimezone(TZ).date() + timedelta(days=1)
        start_from = datetime.combine(tomorrow, time(0), tzinfo=TZ)
        sent = 0
        for booking in await self.bookings.due_reminders(start_from, start_from + timedelta(days=1)):
            if await self.bookings.claim_reminder(booking["_id"], now) is None:
                continue
            service = await self.catalog.get(booking["service_id"]) or {}
            cutoff = minutes_text(rules_of(service)["cancel_cutoff_minutes"])
            whose = "您为家人预约的" if booking.get("booked_by") else "您预约的"
            text = (f"【邻里提醒】{whose}{booking['service_name']}在{booking_when(booking, now)}，"
                    f"地点：{booking.get('location') or '社区'}，预约号 {booking['booking_no']}。"
                    f"来不了请至少提前{cutoff}取消，回复 4 查看我的预约。")
            await self._notify(booking, text, ref=f"booking:{booking['_id']}")
            sent += 1
        return sent
