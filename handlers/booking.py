"""Book community services (预约) in chat, on the flow engine (handlers/flow.py).

Flow "booking": who (only when several elders are linked) -> service -> birth year (only if the
service has an age rule and it is unknown) -> [rental: unit -> pickup day] or [session: time] ->
read-back -> booked | full -> waitlist. What any message says is taken, the first one too
("明天中午帮我妈预约助餐" fills the service, the time and whom it is for).

- service: the NLU's `service` code, a pick from the community's catalogue (digits, or the
  catalogue's own words: "约助餐" picks 老年助餐); a service outside the catalogue is named as
  not offered ("暂时没有“理发”") with what is offered;
- time: a numbered list of the free slots nearest to what was asked, and full ones inside it
  (queue); what is said is per slot: "后天上午已约满" while 后天 14:00 is offered, never
  "后天没有空位";
- birth year: 1952 / 五二年的 / 73岁;
- repair (engine): correction (换成后天 / 时间改成下午四点半 / 服务换成体检), follow-up (后天的呢),
  cancel, back, skip, repeat, digression/resume, 找人工; "2 换个时间" at the read-back asks the
  time again (`Flow.on_no`), a bare 不对 asks which item.

The slots are in handlers/booking_slots.py; listing and cancelling in handlers/booking_list.py.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from handlers.messages import Reply
from handlers.base import MENU_SELECT, Turn, registry
from handlers.booking_common import (
    BOOK_VERB, CANCEL_WORDS, FLOW, MAX_ITEMS, MINE_WORDS, PROXY, me_of, named_service, not_offered, service_entity,
    service_of,
)
from handlers.booking_list import cancel_booking, my_bookings
from handlers.booking_slots import CATALOG_NAMES, SLOTS, TIME_DEPENDENT, beneficiary_of, catalogue, unset
from handlers.flow import engine
from handlers.flow_spec import Flow
from services.booking_rules import BookingRefused, elder_label
from services.booking_times import booking_when

registry.add_menu_item("3", "预约服务", "book_service", "老年助餐、体检、康复辅具租赁、志愿活动、休息房",
                       wechat_key="MENU_BOOK")


# ---- the flow's rules after every answer ---------------------------------------------------

async def check(turn: Turn) -> list[Reply] | None:
    """Service offered here? Eligible (birth year known)? Slots still belonging to the service?"""
    svc, slots = service_of(turn), turn.state.slots
    code = slots.get("service")
    if not code:
        if not await catalogue(turn):
            turn.state.end()
            return [turn.say("booking_no_services")]
        return None
    person = await beneficiary_of(turn)
    service = await svc.service_by_code(person.community, code)
    if service is None:
        unset(turn, "service", "service_id", *TIME_DEPENDENT)
        slots["_descriptions"] = {}
        return [await engine.ask(turn, BOOKING, "service",
                                 note=f"您所在的社区暂时没有“{CATALOG_NAMES.get(code, code)}”这项服务。")]
    if slots.get("service_id") != service["_id"]:
        unset(turn, *TIME_DEPENDENT)
    slots.update(service_id=service["_id"], _service_name=service["name"], _kind=service.get("kind", "session"),
                 _location=service.get("location"))
    if slots.get("birth_year") and slots.get("_need_year"):
        await turn.services.residents.update_profile(person.id, birth_year=int(slots["birth_year"]))
        person = await beneficiary_of(turn)
    verdict = svc.eligibility(service, person)
    slots["_need_year"] = verdict.reason == "age_unknown"
    slots["_year_reason"] = verdict.text if verdict.reason == "age_unknown" else ""
    if not verdict.ok and verdict.reason != "age_unknown":
        turn.state.end()
        return [turn.say("booking_ineligible", text=_for_whom(verdict.text, slots.get("for_label")))]
    if service.get("kind") == "rental":
        if not await svc.open_slots(service) or not svc.pickup_days(service):
            turn.state.end()
            return [turn.say("booking_no_slots", service=service["name"])]
    elif not await svc.open_slots(service):
        turn.state.end()
        return [turn.say("booking_no_slots", service=service["name"])]
    if slots.get("time"):
        slot = await svc.slot(slots["time"])
        slots["_full"] = bool(slot and slot["booked"] >= slot["capacity"])
    if slots.get("unit"):
        pool = await svc.slot(slots["unit"])
        slots["_full"] = bool(pool and pool["booked"] >= pool["capacity"])
    return None


def _for_whom(text: str, label: str | None) -> str:
    return text.replace("今年是", f"{label}今年") if label else text.replace("今年是", "您今年")


# ---- submit ---------------------------------------------------------------------------

async def submit(turn: Turn) -> list[Reply]:
    svc, slots = service_of(turn), turn.state.slots
    me = await me_of(turn)
    person = await beneficiary_of(turn)
    slot_id = slots.get("unit") or slots.get("time")
    pickup = date.fromisoformat(slots["pickup"]) if slots.get("pickup") else None
    try:
        result = await svc.book(slot_id, person, booker=me, user_key=turn.message.user_key,
                                channel=turn.message.channel, join_waitlist=bool(slots.get("_full")), pickup=pickup)
    except BookingRefused as refused:
        if refused.code == "full":
            slots["_full"] = True
            return [await engine.read_back(turn, BOOKING, note="不巧，这个时间刚刚约满了。确认的话为您排队候补（有人取消会通知您）。")]
        if refused.code in ("too_soon", "past", "closed", "not_found"):
            unset(turn, *TIME_DEPENDENT)
            return [await engine.ask(turn, BOOKING, await engine.next_step(turn, BOOKING), note=refused.text)]
        turn.state.end()
        return [turn.say("booking_refused", text=refused.text)]
    turn.state.end()
    label = slots.get("for_label")
    if result.status == "waitlisted":
        return [turn.say("booking_waitlisted", position=result.position, who=label)]
    booking = result.booking
    return [turn.say("booking_done", booking=booking, when=booking_when(booking, svc.clock()), who=label)]


BOOKING = engine.register(Flow(
    name=FLOW, title="预约", slots=SLOTS, confirm_template="booking_confirm", submit=submit,
    intents={"book_service"}, check=check, on_no="time", confirm_buttons=("确认预约", "换个时间"),
))


# ---- starting points -----------------------------------------------------------------

@registry.before_turn
async def booking_in_few_words(turn: Turn) -> None:
    """"约助餐": a booking verb and a catalogue service's own words are a booking request,
    whatever the model says about so short a message."""
    if turn.state.flow is not None or turn.intent in (MENU_SELECT, "book_service") or len(turn.text) > 15:
        return
    if not BOOK_VERB.search(turn.text) or CANCEL_WORDS.search(turn.text) or MINE_WORDS.search(turn.text):
        return
    if turn.services.bookings is None or turn.services.residents is None:
        return
    me = await me_of(turn)
    if named_service(turn.text, await service_of(turn).services_for(me.community)) is not None:
        turn.intent, turn.confidence = "book_service", 1.0


@registry.on_intent("book_service")
async def book_service(turn: Turn) -> list[Reply]:
    if CANCEL_WORDS.search(turn.text):
        return await cancel_booking(turn)
    if MINE_WORDS.search(turn.text):
        return await my_bookings(turn)
    me = await me_of(turn)
    turn.state.start(FLOW, None, for_id=me.id, for_label=None)
    values: dict[str, Any] = {}
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
            turn.state.slots["who_options"] = [elder.id for _, elder in elders][:MAX_ITEMS]
        else:
            link, elder = chosen[0]
            turn.state.slots.update(for_id=elder.id, for_label=elder_label(link, elder))
    missing = None
    if turn.message.kind in ("text", "voice") and not service_entity(turn) and turn.intent != MENU_SELECT:
        services = await catalogue(turn)
        code = named_service(turn.text, services)
        if code is not None:
            values["service"] = code
        else:
            missing = not_offered(turn.text, services)
    return await start_flow(turn, values, missing)


async def start_flow(turn: Turn, values: dict[str, Any], missing: str | None = None) -> list[Reply]:
    """Take what the first message says: the service first, then what depends on it
    (the time or the aid), then ask the first missing thing."""
    for name, value in values.items():
        engine.set_value(turn, BOOKING.slot(name), value)
    text = turn.message.kind in ("text", "voice")
    if text:
        await engine.fill_from_message(turn, BOOKING)
    if turn.state.slots.get("service"):
        replies = await check(turn)
        if replies is not None:
            return replies
        if text:
            await engine.fill_from_message(turn, BOOKING)
    if missing and not turn.state.slots.get("service"):
        turn.state.slots["_not_offered"] = missing
        return [await engine.ask(turn, BOOKING, "service", note=f"暂时没有“{missing}”这项服务。")]
    return await engine.proceed(turn, BOOKING)
