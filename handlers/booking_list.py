"""My bookings (我的预约) and cancelling in chat.

Flow "my_bookings": the resident's offers, bookings and queue places as a numbered
list (at most 8, so 9 and 0 keep their global meaning: 找人工 / 主菜单); a number opens
one: accept an offer, cancel a booking (picking a reason confirms), or leave the queue.
"""
from __future__ import annotations

from typing import Any

from handlers.messages import Button, Reply
from handlers.base import FALLBACK, Turn, registry
from handlers.booking_common import MAX_ITEMS, MINE, is_no, is_yes, me_of, number, numbered, service_entity, service_of
from services.booking_times import booking_when, slot_label
from services.booking_rules import BookingRefused
from storage.booking_catalog import TZ

registry.add_menu_item("4", "我的预约", "my_bookings", "查看或取消已有的预约", wechat_key="MENU_MY_BOOKINGS")
# 1 keeps the booking: a habitual "1" (yes / the first option) must never cancel (issue 12.6).
KEEP_KEY = 1
REASONS = {"2": "临时有事", "3": "身体不适", "4": "不需要了"}
# Intents a typed cancellation reason may come with ("家里有事去不了"); others leave the flow.
REASON_INTENTS = {FALLBACK, "cancel_booking", "book_service", "deny", "affirm", "greet", "thank", "out_of_scope"}


# ---- my bookings and cancelling ------------------------------------------------------

@registry.on_intent("my_bookings")
async def my_bookings(turn: Turn) -> list[Reply]:
    return await _list(turn, cancel_only=False)


@registry.on_intent("cancel_booking")
async def cancel_booking(turn: Turn) -> list[Reply]:
    return await _list(turn, cancel_only=True)


async def _list(turn: Turn, cancel_only: bool) -> list[Reply]:
    svc = service_of(turn)
    me = await me_of(turn)
    mine = await svc.mine(me)
    now = svc.clock()
    code = service_entity(turn)
    items: list[dict[str, Any]] = []

    def add(ref: str, kind: str, record: dict[str, Any], when: str, **extra: Any) -> None:
        items.append({"ref": ref, "kind": kind, "name": record["service_name"], "when": when,
                      "for": record["resident_id"] != me.id, "no": None, "unit": None, "position": None, **extra})

    if not cancel_only:
        for entry in mine["offers"]:
            add(f"o:{entry['_id']}", "offer", entry, _entry_when(entry, now))
    for booking in mine["bookings"]:
        if cancel_only and code and booking["service"] != code:
            continue
        add(f"b:{booking['_id']}", "booking", booking, booking_when(booking, now), no=booking["booking_no"],
            unit=booking.get("title") if booking.get("kind") == "rental" else None)
    if not cancel_only:
        for entry in mine["waiting"]:
            add(f"w:{entry['_id']}", "waiting", entry, _entry_when(entry, now), position=entry["position"])
    if not items:
        turn.state.end()
        return [turn.say("booking_none", cancel_only=cancel_only)]
    more = max(0, len(items) - MAX_ITEMS)
    items = items[:MAX_ITEMS]
    turn.state.start(MINE, "pick", refs=[item["ref"] for item in items])
    if cancel_only and len(items) == 1:
        return await _open_item(turn, items[0]["ref"])
    return [turn.say("booking_list", items=items, more=more, cancel_only=cancel_only,
                     buttons=numbered([f"{i['name']} {i['when']}" for i in items]))]


def _entry_when(entry: dict[str, Any], now) -> str:
    slot = entry.get("slot") or {}
    return slot_label(slot, now) if slot.get("start") else (slot.get("title") or "")


@registry.on_flow(MINE)
async def mine_flow(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step, turn.state.slots
    n = number(turn)
    if step == "pick":
        refs = slots.get("refs", [])
        if n is not None and 1 <= n <= len(refs):
            return await _open_item(turn, refs[n - 1])
        if n is not None:
            return [turn.say("booking_bad_number", count=len(refs))]
        return None
    if step == "cancel":
        return await _step_cancel(turn, n)
    if step in ("offer", "leave"):
        return await _step_entry(turn, n)
    turn.state.end()
    return None


async def _open_item(turn: Turn, ref: str) -> list[Reply]:
    svc, now = service_of(turn), service_of(turn).clock()
    kind, _, item_id = ref.partition(":")
    turn.state.slots["item"] = item_id
    if kind == "b":
        booking = await svc.booking(item_id)
        if booking is None or booking["status"] != "booked":
            turn.state.end()
            return [turn.say("booking_refused", text="这个预约已经取消或结束了。")]
        turn.state.step = "cancel"
        return [turn.say("booking_cancel_confirm", booking=booking, when=booking_when(booking, now),
                         reasons=REASONS, buttons=[Button("1 不取消，保留预约", "1"),
                                                   *(Button(f"{k} {v}，取消", k) for k, v in REASONS.items())])]
    entry = await svc.waitlist_entry(item_id)
    if entry is None or not entry.get("active"):
        turn.state.end()
        return [turn.say("booking_refused", text="这条候补已经处理过了。")]
    slot = await svc.slot(entry["slot_id"]) or {}
    when = slot_label(slot, now) if slot else ""
    if entry["status"] == "offered":
        turn.state.step = "offer"
        return [turn.say("booking_offer_confirm", entry=entry, when=when,
                         until=f"{entry['offer_expires_at'].astimezone(TZ):%H:%M}",
                         buttons=[Button("1 确认预约", "1"), Button("2 不要了", "2")])]
    turn.state.step = "leave"
    return [turn.say("booking_leave_confirm", entry=entry, when=when,
                     buttons=[Button("1 退出排队", "1"), Button("2 继续排队", "2")])]


async def _step_cancel(turn: Turn, n: int | None) -> list[Reply] | None:
    booking_id = turn.state.slots["item"]
    if n == KEEP_KEY or (n is None and is_no(turn)):
        turn.state.end()
        return [turn.say("booking_kept", waiting=False)]
    if n is not None and str(n) in REASONS:
        reason = REASONS[str(n)]
    elif n is None and is_yes(turn):
        reason = None
    elif n is None and turn.has_words and turn.intent in REASON_INTENTS:
        reason = turn.text[:100]  # a reason in the resident's own words confirms too
    elif n is not None:
        return [turn.say("booking_bad_number", count=4)]
    else:
        return None
    me = await me_of(turn)
    turn.state.end()
    try:
        booking = await service_of(turn).cancel(booking_id, actor=me, reason=reason)
    except BookingRefused as refused:
        return [turn.say("booking_refused", text=refused.text)]
    return [turn.say("booking_cancelled", booking=booking, when=booking_when(booking, service_of(turn).clock()))]


async def _step_entry(turn: Turn, n: int | None) -> list[Reply] | None:
    step, entry_id = turn.state.step, turn.state.slots["item"]
    svc = service_of(turn)
    me = await me_of(turn)
    yes = n == 1 or (n is None and is_yes(turn))
    no = n == 2 or (n is None and is_no(turn))
    if not (yes or no):
        return [turn.say("booking_bad_number", count=2)] if n is not None else None
    turn.state.end()
    try:
        if step == "offer" and yes:
            booking = await svc.accept_offer(entry_id, me)
            return [turn.say("booking_done", booking=booking, when=booking_when(booking, svc.clock()), who=None)]
        if step == "offer" or (step == "leave" and yes):
            await svc.decline_offer(entry_id, me)
            return [turn.say("booking_left_queue", offer=step == "offer")]
    except BookingRefused as refused:
        return [turn.say("booking_refused", text=refused.text)]
    return [turn.say("booking_kept", waiting=True)]
