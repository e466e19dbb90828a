"""The slots of the booking flow (handlers/booking.py): for whom, the service, the birth year,
the aid and its pickup day, the session time: their numbered choices, how a free answer or an
entity is read, what the read-back shows and what each question is told.
"""
from __future__ import annotations

from datetime import date
from typing import Any

from handlers import words
from handlers.base import MENU_SELECT, Turn
from handlers.booking_common import (
    BOOK_VERB, MAX_ITEMS, catalogue_choices, me_of, named_service, not_offered, service_entity, service_of, wanted_of,
)
from handlers.booking_times import birth_year, exact_pick, option_title, time_options
from handlers.flow import engine
from handlers.flow_choices import Choice
from handlers.flow_spec import Rejected, Slot
from services.booking_rules import elder_label
from services.booking_times import Wanted, day_label, slot_label
from storage.booking_catalog import CATALOG

CATALOG_NAMES = {entry["code"]: entry["name"] for entry in CATALOG}
# The slots that belong to the chosen service: unset when the service changes.
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


def unset(turn: Turn, *names: str) -> None:
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
    return [Choice(d.isoformat(), day_label(svc.pickup_at(service, d), svc.clock()))
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
    start = svc.pickup_at(service, date.fromisoformat(value))
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
