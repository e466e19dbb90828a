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

Listing and cancelling are in handlers/booking_list.py.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from handlers.messages import Reply
from handlers import words
from handlers.base import MENU_SELECT, Turn, registry
from handlers.booking_common import (
    BOOK_VERB, CANCEL_WORDS, FLOW, MAX_ITEMS, MINE_WORDS, PROXY, catalogue_choices, me_of, named_service,
    not_offered, service_entity, service_of, wanted_of,
)
from handlers.booking_list import cancel_booking, my_bookings
from handlers.booking_times import birth_year, exact_pick, option_title, time_options
from handlers.flow import engine
from handlers.flow_choices import Choice
from handlers.flow_spec import Flow, Rejected, Slot
from services.booking_rules import BookingRefused, elder_label
from services.booking_times import Wanted, booking_when, day_label, slot_label
from storage.booking_catalog import CATALOG

registry.add_menu_item("3", "预约服务", "book_service", "老年助餐、体检、康复辅具租赁、志愿活动、休息房",
                       wechat_key="MENU_BOOK")
CATALOG_NAMES = {entry["code"]: entry["name"] for entry in CATALOG}
TIME_DEPENDENT = ("time", "unit", "pickup")


# ---- state helpers --------------------------------------------------------------------

async def beneficiary_of(turn: Turn):
    me = await me_of(turn)
    for_id = turn.state.slots.get("for_id")
    return (await turn.services.residents.get(for_id) if for_id and for_id != me.id else None) or me


async def catalogue(turn: Turn) -> list[dict[str, Any]]:
    person = await beneficiary_of(turn)
    return (await service_of(turn).services_for(person.community))[:MAX_ITEMS]


async def current_service(turn: Turn) -> dict[str, Any] | None:
    service_id = turn.state.slots.get("service_id")
    return await service_of(turn).service(service_id) if service_id else None


def _unset(turn: Turn, *names: str) -> None:
    done = engine.done(turn)
    for name in names:
        turn.state.slots.pop(name, None)
        if name in done:
            done.remove(name)


def _wanted(turn: Turn) -> Wanted | None:
    return Wanted.from_slots(turn.state.slots)


# ---- slots ----------------------------------------------------------------------------

async def who_choices(turn: Turn) -> list[Choice]:
    me = await me_of(turn)
    return [Choice(elder.id, elder_label(link, elder)) for link, elder in await service_of(turn).elders_of(me)][:MAX_ITEMS]


async def show_who(turn: Turn, value: Any) -> str:
    return turn.state.slots.get("for_label") or "本人"


async def after_who(turn: Turn, value: Any) -> None:
    for choice in await who_choices(turn):
        if choice.value == value:
            turn.state.slots.update(for_id=value, for_label=choice.title)
    return None


async def service_choices(turn: Turn) -> list[Choice]:
    return catalogue_choices(await catalogue(turn))


def extract_service(turn: Turn) -> str | None:
    return service_entity(turn)


async def parse_service(turn: Turn, text: str) -> str | None:
    services = await catalogue(turn)
    code = named_service(text, services)
    asks = BOOK_VERB.search(text) or (turn.intent == "book_service" and turn.confidence >= 0.6)
    if code is None and asks and (missing := not_offered(text, services)) is not None:
        turn.state.slots["_not_offered"] = missing
        raise Rejected(f"暂时没有“{missing}”这项服务。")
    return code


def show_service(turn: Turn, value: Any) -> str:
    return turn.state.slots.get("_service_name") or CATALOG_NAMES.get(value or "", "未选择")


def service_context(turn: Turn) -> dict[str, Any]:
    return {"who": turn.state.slots.get("for_label"), "descriptions": turn.state.slots.get("_descriptions") or {}}


def needs_year(turn: Turn) -> bool:
    return bool(turn.state.slots.get("_need_year"))


def parse_year(turn: Turn, text: str) -> int | None:
    return birth_year(text, service_of(turn).clock().year)


def extract_year(turn: Turn) -> int | None:
    """At the birth-year question, the NLU's time entity may carry the year ("五二年" -> 1952)."""
    if turn.state.step != "birth_year":
        return None
    wanted = wanted_of(turn)
    this_year = service_of(turn).clock().year
    return wanted.start.year if wanted and this_year - 110 <= wanted.start.year <= this_year - 10 else None


def year_context(turn: Turn) -> dict[str, Any]:
    slots = turn.state.slots
    return {"who": slots.get("for_label"), "reason": slots.get("_year_reason", ""),
            "service": slots.get("_service_name", "")}


def is_rental(turn: Turn) -> bool:
    return turn.state.slots.get("_kind") == "rental" and bool(turn.state.slots.get("service_id"))


def is_session(turn: Turn) -> bool:
    return turn.state.slots.get("_kind") == "session" and bool(turn.state.slots.get("service_id"))


async def unit_choices(turn: Turn) -> list[Choice]:
    service = await current_service(turn)
    pools = await service_of(turn).open_slots(service) if service else []
    return [Choice(p["_id"], p.get("title") or p.get("unit") or "辅具") for p in pools][:MAX_ITEMS]


async def extract_unit(turn: Turn) -> str | None:
    """An aid named by its pool's title ("帮我约个轮椅")."""
    if not is_rental(turn) or turn.intent == MENU_SELECT:
        return None
    said = words.plain(turn.text)
    named = [c for c in await unit_choices(turn) if words.plain(c.title) in said]
    return named[0].value if len(named) == 1 else None


async def unit_context(turn: Turn) -> dict[str, Any]:
    service = await current_service(turn) or {}
    pools = {p["_id"]: p for p in await service_of(turn).open_slots(service)} if service else {}
    marks = {c.title: ("full" if pools[c.value]["booked"] >= pools[c.value]["capacity"]
                       else pools[c.value]["capacity"] - pools[c.value]["booked"]) for c in await unit_choices(turn)}
    return {"service": service.get("name", ""), "loan_days": service.get("loan_days", 30), "marks": marks}


async def show_unit(turn: Turn, value: Any) -> str:
    pool = await service_of(turn).slot(value) if value else None
    return (pool or {}).get("title") or "未选择"


async def pickup_choices(turn: Turn) -> list[Choice]:
    service = await current_service(turn)
    if service is None:
        return []
    svc = service_of(turn)
    return [Choice(d.isoformat(), day_label(svc._pickup_at(service, d), svc.clock()))
            for d in svc.pickup_days(service)]


async def parse_pickup(turn: Turn, text: str) -> str | None:
    wanted = wanted_of(turn, text)
    if wanted is None:
        return None
    day = wanted.start.date().isoformat()
    if day in {c.value for c in await pickup_choices(turn)}:
        return day
    raise Rejected(f"{day_label(wanted.start, service_of(turn).clock())}不能领取，请选一天：")


async def extract_pickup(turn: Turn) -> str | None:
    wanted = wanted_of(turn) if is_rental(turn) else None
    if wanted is None:
        return None
    day = wanted.start.date().isoformat()
    return day if day in {c.value for c in await pickup_choices(turn)} else None


async def pickup_context(turn: Turn) -> dict[str, Any]:
    service = await current_service(turn) or {}
    return {"hours": service.get("pickup_hours") or []}


async def show_pickup(turn: Turn, value: Any) -> str:
    service = await current_service(turn)
    if not value or service is None:
        return "未选择"
    svc = service_of(turn)
    start = svc._pickup_at(service, date.fromisoformat(value))
    return f"{day_label(start, svc.clock())}{start:%H:%M}后领取，最长借{service.get('loan_days', 30)}天"


async def _options(turn: Turn):
    service = await current_service(turn)
    return await time_options(service_of(turn), service, _wanted(turn)) if service else None


async def time_choices(turn: Turn) -> list[Choice]:
    options = await _options(turn)
    now = service_of(turn).clock()
    return [Choice(s["_id"], option_title(s, now)) for s in options.slots][:MAX_ITEMS] if options else []


def remember_time(turn: Turn, text: str | None = None) -> Wanted | None:
    wanted = wanted_of(turn, text)
    if wanted is not None:
        turn.state.slots.update(wanted.as_slots())
    return wanted


async def parse_time(turn: Turn, text: str) -> str | None:
    """A day or time said at the time question: the slot starting exactly then, or the list
    re-ranked around it (Rejected: understood, asked again with the new list)."""
    if remember_time(turn, text) is None:
        return None
    options = await _options(turn)
    picked = exact_pick(options) if options else None
    if picked is not None and picked["booked"] < picked["capacity"]:
        return picked["_id"]
    raise Rejected("")


def extract_time(turn: Turn) -> None:
    """A time in any message of the flow (the first one too) narrows the offered times."""
    if turn.intent != MENU_SELECT and turn.message.kind in ("text", "voice") and turn.state.step != "birth_year":
        remember_time(turn)
    return None


def looks_like_time(text: str) -> bool:
    return any(word in text for word in ("今天", "明天", "后天", "周", "星期", "点", "上午", "下午", "中午", "晚上", "号"))


async def time_context(turn: Turn) -> dict[str, Any]:
    options = await _options(turn)
    service = await current_service(turn) or {}
    by_title = {}
    if options:
        now = service_of(turn).clock()
        by_title = {option_title(s, now): ("full" if s["booked"] >= s["capacity"] else s["capacity"] - s["booked"])
                    for s in options.slots}
    turn.state.slots["_time_status"] = options.status if options else None  # free | full | none
    return {"service": service.get("name", ""), "marks": by_title, "status": options.status if options else None,
            "wanted": options.wanted_label if options else None}


async def show_time(turn: Turn, value: Any) -> str:
    slot = await service_of(turn).slot(value) if value else None
    return slot_label(slot, service_of(turn).clock()) if slot else "未选择"


SLOTS = [
    Slot("who", "为谁", "booking_ask_who", words=("为谁", "替谁"), choices=who_choices,
         needed=lambda turn: bool(turn.state.slots.get("who_options")), show=show_who, after=after_who),
    Slot("service", "服务", "booking_ask_service", words=("服务", "项目"), choices=service_choices,
         parse=parse_service, extract=extract_service, show=show_service, context=service_context),
    Slot("birth_year", "出生年份", "booking_ask_birth_year", words=("出生", "年份", "年龄"), parse=parse_year,
         extract=extract_year, needed=needs_year, context=year_context, show=lambda turn, value: f"{value}年"),
    Slot("unit", "辅具", "booking_ask_unit", words=("辅具", "轮椅"), choices=unit_choices, extract=extract_unit,
         needed=is_rental, context=unit_context, show=show_unit),
    Slot("pickup", "领取", "booking_ask_pickup", words=("领取", "日期", "哪天"), choices=pickup_choices,
         parse=parse_pickup, extract=extract_pickup, needed=is_rental, context=pickup_context, show=show_pickup,
         parse_first=True, looks_like=looks_like_time),
    Slot("time", "时间", "booking_ask_time", words=("时间", "日期", "几点", "时段"), choices=time_choices,
         parse=parse_time, extract=extract_time, needed=is_session, context=time_context, show=show_time,
         parse_first=True, looks_like=looks_like_time),
]


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
        _unset(turn, "service", "service_id", *TIME_DEPENDENT)
        slots["_descriptions"] = {}
        return [await engine.ask(turn, BOOKING, "service",
                                 note=f"您所在的社区暂时没有“{CATALOG_NAMES.get(code, code)}”这项服务。")]
    if slots.get("service_id") != service["_id"]:
        _unset(turn, *TIME_DEPENDENT)
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
            _unset(turn, *TIME_DEPENDENT)
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
