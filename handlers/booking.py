"""Book community services (预约) in chat.

Flow "booking", one question a turn, skipping what the first message said
("明天中午帮我妈预约助餐" fills the service, the time and whom it is for):

    who (proxy, when several elders are linked) -> service -> birth year (only if the
    service has an age rule and it is unknown) -> [rental: unit -> pickup day] or
    [session: time] -> confirm -> booked | full -> waitlist

Listing and cancelling are in handlers/booking_list.py.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from bot.messages import Button, Reply
from handlers.base import FALLBACK, MENU_SELECT, Turn, registry
from handlers.booking_common import (
    CANCEL_WORDS, FLOW, MAX_ITEMS, MINE_WORDS, PROXY, UNIT_WORDS, is_no, is_yes, me_of, number, numbered,
    service_code, service_of, wanted_of,
)
from handlers.booking_list import cancel_booking, my_bookings
from services.booking_times import Wanted, booking_when, day_label, overlaps, slot_label
from services.bookings import BookingRefused, elder_label

_YEAR = re.compile(r"(19[0-9]{2}|20[0-2][0-9])")
_AGE = re.compile(r"([1-9][0-9]{0,2})\s*(?:岁|周岁)?")


# ---- starting points -----------------------------------------------------------------

@registry.on_intent("book_service")
async def book_service(turn: Turn) -> list[Reply]:
    if CANCEL_WORDS.search(turn.text):
        return await cancel_booking(turn)
    if MINE_WORDS.search(turn.text):
        return await my_bookings(turn)
    me = await me_of(turn)
    turn.state.start(FLOW, None, for_id=me.id, for_label=None)
    slots = turn.state.slots
    wanted = wanted_of(turn)
    if wanted:
        slots.update(wanted.as_slots())
    code = service_code(turn)
    if code:
        slots["code"] = code
    for unit, pattern in UNIT_WORDS.items():
        if re.search(pattern, turn.text):
            slots["unit"] = unit
            break
    proxy = PROXY.search(turn.text)
    if proxy:
        elders = await service_of(turn).elders_of(me)
        if not elders:
            turn.state.end()
            return [turn.say("booking_not_linked", who=proxy.group(1))]
        named = [(link, elder) for link, elder in elders
                 if (link.get("label") and link["label"] in turn.text) or (elder.name and elder.name in turn.text)]
        chosen = named if len(named) == 1 else elders if len(elders) == 1 else None
        if chosen is None:
            slots["who_options"] = [elder.id for _, elder in elders][:MAX_ITEMS]
            labels = [elder_label(link, elder) for link, elder in elders][:MAX_ITEMS]
            turn.state.step = "who"
            return [turn.say("booking_ask_who", labels=labels, buttons=numbered(labels))]
        link, elder = chosen[0]
        slots.update(for_id=elder.id, for_label=elder_label(link, elder))
    return await advance(turn)


async def advance(turn: Turn) -> list[Reply]:
    """Ask the next missing thing (or confirm when nothing is missing)."""
    svc, slots = service_of(turn), turn.state.slots
    me = await me_of(turn)
    beneficiary = await turn.services.residents.get(slots["for_id"]) or me
    service = None
    if slots.get("code"):
        service = await svc.service_by_code(beneficiary.community, slots["code"])
        if service is None:
            slots.pop("code", None)
            services = await svc.services_for(beneficiary.community)
            return _ask_service(turn, services, note="您所在的社区暂时没有这项服务。")
    if service is None:
        return _ask_service(turn, await svc.services_for(beneficiary.community))
    slots["service_id"] = service["_id"]
    verdict = svc.eligibility(service, beneficiary)
    if not verdict.ok:
        if verdict.reason == "age_unknown":
            turn.state.step = "birth_year"
            return [turn.say("booking_ask_birth_year", service=service["name"], who=slots.get("for_label"),
                             reason=verdict.text)]
        turn.state.end()
        return [turn.say("booking_ineligible", text=_for_whom(verdict.text, slots.get("for_label")))]
    if service.get("kind") == "rental":
        return await _advance_rental(turn, service)
    if not slots.get("slot_id"):
        return await _ask_time(turn, service)
    return await _ask_confirm(turn, service)


def _for_whom(text: str, label: str | None) -> str:
    return text.replace("今年是", f"{label}今年") if label else text.replace("今年是", "您今年")


def _ask_service(turn: Turn, services: list[dict[str, Any]], note: str | None = None) -> list[Reply]:
    services = services[:MAX_ITEMS]
    turn.state.step = "service"
    turn.state.slots["service_options"] = [s["code"] for s in services]
    if not services:
        turn.state.end()
        return [turn.say("booking_no_services")]
    names = [s["name"] for s in services]
    return [turn.say("booking_ask_service", services=services, note=note, who=turn.state.slots.get("for_label"),
                     buttons=numbered(names))]


async def _ask_time(turn: Turn, service: dict[str, Any], note: str | None = None) -> list[Reply]:
    svc, slots = service_of(turn), turn.state.slots
    wanted = Wanted.from_slots(slots)
    now = svc.clock()
    free = await svc.suggest(service, wanted, limit=5)
    full_wanted: list[dict[str, Any]] = []
    if wanted is not None:
        overlapping = [s for s in await svc.open_slots(service, now) if s.get("start") and overlaps(s, wanted)]
        if not any(s["_id"] in {f["_id"] for f in free} for s in overlapping):
            full_wanted = [s for s in overlapping if s["booked"] >= s["capacity"]][:2]
    options = free + full_wanted
    if not options:
        turn.state.end()
        return [turn.say("booking_no_slots", service=service["name"])]
    slots["options"] = [s["_id"] for s in options][:MAX_ITEMS]
    turn.state.step = "time"
    matched = wanted is not None and any(overlaps(s, wanted) for s in free)
    items = [{"label": slot_label(s, now), "left": s["capacity"] - s["booked"], "full": s["booked"] >= s["capacity"]}
             for s in options]
    return [turn.say("booking_ask_time", service=service["name"], items=items, note=note,
                     wanted=day_label(wanted.start, now) if wanted and not matched else None,
                     buttons=numbered([i["label"] for i in items]))]


async def _advance_rental(turn: Turn, service: dict[str, Any]) -> list[Reply]:
    svc, slots = service_of(turn), turn.state.slots
    pools = await svc.open_slots(service)
    if not pools:
        turn.state.end()
        return [turn.say("booking_no_slots", service=service["name"])]
    if not slots.get("slot_id"):
        match = [p for p in pools if p.get("unit") == slots.get("unit")]
        if len(match) == 1 or len(pools) == 1:
            slots["slot_id"] = (match or pools)[0]["_id"]
        else:
            slots["options"] = [p["_id"] for p in pools][:MAX_ITEMS]
            turn.state.step = "unit"
            items = [{"label": p.get("title") or p.get("unit"), "left": p["capacity"] - p["booked"],
                      "full": p["booked"] >= p["capacity"]} for p in pools][:MAX_ITEMS]
            return [turn.say("booking_ask_unit", service=service["name"], items=items, loan_days=service.get("loan_days", 30),
                             buttons=numbered([i["label"] for i in items]))]
    if not slots.get("pickup"):
        days = svc.pickup_days(service)
        wanted = Wanted.from_slots(slots)
        if wanted is not None:
            day = wanted.start.date()
            if day in days:
                slots["pickup"] = day.isoformat()
                return await _ask_confirm(turn, service)
        if not days:
            turn.state.end()
            return [turn.say("booking_no_slots", service=service["name"])]
        slots["options"] = [d.isoformat() for d in days]
        turn.state.step = "pickup"
        labels = [day_label(svc._pickup_at(service, d), svc.clock()) for d in days]
        return [turn.say("booking_ask_pickup", labels=labels, hours=service.get("pickup_hours") or [],
                         wanted=day_label(wanted.start) if wanted else None, buttons=numbered(labels))]
    return await _ask_confirm(turn, service)


async def _ask_confirm(turn: Turn, service: dict[str, Any]) -> list[Reply]:
    svc, slots = service_of(turn), turn.state.slots
    slot = await svc.slots.get(slots["slot_id"])
    if slot is None:
        slots.pop("slot_id", None)
        return await _ask_time(turn, service, note="刚才的时段已经取消了，请重新选择。")
    now = svc.clock()
    if slot.get("start") is None:
        pickup = date.fromisoformat(slots["pickup"])
        start = svc._pickup_at(service, pickup)
        when = f"{day_label(start, now)}{start:%H:%M}后领取，最长借{service.get('loan_days', 30)}天"
        what = f"{service['name']}（{slot.get('title')}）"
    else:
        when, what = slot_label(slot, now), service["name"]
    turn.state.step = "confirm"
    full = slot["booked"] >= slot["capacity"]
    slots["shown_full"] = full  # confirming then means "queue me"
    return [turn.say("booking_confirm", what=what, when=when, location=service.get("location"),
                     who=slots.get("for_label"), full=full,
                     buttons=[Button("1 确认预约" if not full else "1 排队候补", "1"), Button("2 换个时间", "2")])]


# ---- the booking flow ------------------------------------------------------------------

@registry.on_flow(FLOW)
async def booking_flow(turn: Turn) -> list[Reply] | None:
    step = turn.state.step
    handler = _STEPS.get(step or "")
    if handler is None:
        turn.state.end()
        return None
    replies = await handler(turn)
    if replies is None and turn.intent in (FALLBACK, "greet", "affirm", "deny", "thank", "out_of_scope", MENU_SELECT):
        return [turn.say("booking_reprompt", step=step)]
    return replies


async def _step_who(turn: Turn) -> list[Reply] | None:
    n, options = number(turn), turn.state.slots.get("who_options", [])
    if n is None or not 1 <= n <= len(options):
        return None
    me = await me_of(turn)
    for link, elder in await service_of(turn).elders_of(me):
        if elder.id == options[n - 1]:
            turn.state.slots.update(for_id=elder.id, for_label=elder_label(link, elder))
            return await advance(turn)
    turn.state.end()
    return [turn.say("booking_not_linked", who="这位老人")]


async def _step_service(turn: Turn) -> list[Reply] | None:
    n, options = number(turn), turn.state.slots.get("service_options", [])
    code = options[n - 1] if n is not None and 1 <= n <= len(options) else service_code(turn)
    if code is None:
        return None
    turn.state.slots["code"] = code
    wanted = wanted_of(turn)
    if wanted:
        turn.state.slots.update(wanted.as_slots())
    return await advance(turn)


async def _step_birth_year(turn: Turn) -> list[Reply] | None:
    year = _birth_year(turn.text, service_of(turn).clock().year)
    if year is None:
        return None
    await turn.services.residents.update_profile(turn.state.slots["for_id"], birth_year=year)
    return await advance(turn)


def _birth_year(text: str, this_year: int) -> int | None:
    """A birth year from "1950", "1950年" or an age ("68", "68岁")."""
    found = _YEAR.search(text)
    if found:
        year = int(found.group(1))
        return year if this_year - 110 <= year <= this_year else None
    found = _AGE.fullmatch(text.strip())
    if found and 1 <= int(found.group(1)) <= 110:
        return this_year - int(found.group(1))
    return None


async def _step_time(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    n, options = number(turn), slots.get("options", [])
    if n is not None and 1 <= n <= len(options):
        slots["slot_id"] = options[n - 1]
        return await advance(turn)
    wanted = wanted_of(turn)
    if wanted is not None:
        slots.update(wanted.as_slots())
        service = await service_of(turn).catalog.get(slots["service_id"])
        return await _ask_time(turn, service)
    if n is not None:
        return [turn.say("booking_bad_number", count=len(options))]
    return None


async def _step_unit(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    n, options = number(turn), slots.get("options", [])
    if n is not None and 1 <= n <= len(options):
        slots["slot_id"] = options[n - 1]
        return await advance(turn)
    for unit, pattern in UNIT_WORDS.items():
        if re.search(pattern, turn.text):
            slots["unit"] = unit
            return await advance(turn)
    if n is not None:
        return [turn.say("booking_bad_number", count=len(options))]
    return None


async def _step_pickup(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    n, options = number(turn), slots.get("options", [])
    if n is not None and 1 <= n <= len(options):
        slots["pickup"] = options[n - 1]
        return await advance(turn)
    wanted = wanted_of(turn)
    if wanted is not None:
        slots.update(wanted.as_slots())
        if wanted.start.date().isoformat() in options:
            slots["pickup"] = wanted.start.date().isoformat()
        return await advance(turn)
    if n is not None:
        return [turn.say("booking_bad_number", count=len(options))]
    return None


async def _change_time(turn: Turn, wanted: Wanted | None = None) -> list[Reply]:
    slots = turn.state.slots
    for key in ("slot_id", "pickup", "options", "shown_full"):
        slots.pop(key, None)
    if wanted is not None:
        slots.update(wanted.as_slots())
    service = await service_of(turn).catalog.get(slots["service_id"])
    if service.get("kind") == "rental":
        return await _advance_rental(turn, service)
    return await _ask_time(turn, service)


async def _step_confirm(turn: Turn) -> list[Reply] | None:
    n = number(turn)
    if n == 1 or (n is None and is_yes(turn)):
        return await _commit(turn, join_waitlist=turn.state.step == "full" or bool(turn.state.slots.get("shown_full")))
    if n == 2:
        return await _change_time(turn)
    wanted = wanted_of(turn)
    if wanted is not None:
        return await _change_time(turn, wanted)
    if is_no(turn):
        turn.state.end()
        return [turn.say("booking_dropped")]
    if n is not None:
        return [turn.say("booking_bad_number", count=2)]
    return None


async def _commit(turn: Turn, join_waitlist: bool) -> list[Reply]:
    svc, slots = service_of(turn), turn.state.slots
    me = await me_of(turn)
    beneficiary = await turn.services.residents.get(slots["for_id"]) or me
    pickup = date.fromisoformat(slots["pickup"]) if slots.get("pickup") else None
    try:
        result = await svc.book(slots["slot_id"], beneficiary, booker=me, user_key=turn.message.user_key,
                                channel=turn.message.channel, join_waitlist=join_waitlist, pickup=pickup)
    except BookingRefused as refused:
        if refused.code == "full":
            turn.state.step = "full"
            return [turn.say("booking_full", buttons=[Button("1 排队候补", "1"), Button("2 换个时间", "2")])]
        if refused.code in ("too_soon", "past", "closed", "not_found"):
            return await _retry_time(turn, refused.text)
        turn.state.end()
        return [turn.say("booking_refused", text=refused.text)]
    turn.state.end()
    label = slots.get("for_label")
    if result.status == "waitlisted":
        return [turn.say("booking_waitlisted", position=result.position, who=label)]
    booking = result.booking
    return [turn.say("booking_done", booking=booking, when=booking_when(booking, svc.clock()), who=label)]


async def _retry_time(turn: Turn, note: str) -> list[Reply]:
    slots = turn.state.slots
    for key in ("slot_id", "pickup", "options", "shown_full"):
        slots.pop(key, None)
    service = await service_of(turn).catalog.get(slots["service_id"])
    if service.get("kind") == "rental":
        return await _advance_rental(turn, service)
    return await _ask_time(turn, service, note=note)


_STEPS = {
    "who": _step_who, "service": _step_service, "birth_year": _step_birth_year, "time": _step_time,
    "unit": _step_unit, "pickup": _step_pickup, "confirm": _step_confirm, "full": _step_confirm,
}
