"""Booking slots in chat: the numbered times offered for what the resident asked, and what to
say per slot (a full morning is "后天上午已约满", never "后天没有空位" while the afternoon is free).

Also the birth year read from everyday answers: "1952", "五二年的", "一九五二年", "73岁", "七十三".
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers import words
from services.booking_times import Wanted, day_label, local, overlaps, slot_label
from services.bookings import BookingService

MAX_FREE, MAX_FULL = 5, 2
_DIGIT = {"零": "0", "〇": "0", "o": "0", "一": "1", "幺": "1", "二": "2", "两": "2", "三": "3", "四": "4", "五": "5",
          "六": "6", "七": "7", "八": "8", "九": "9"}
_RUN = re.compile(r"[零〇一幺二两三四五六七八九]{2,4}(?=年)")
_YEAR4 = re.compile(r"(19\d{2}|20[0-2]\d)")
_YEAR2 = re.compile(r"(?<!\d)(\d{2})\s*年")
_AGE = re.compile(r"(?<!\d)(\d{1,3})\s*(?:岁|周岁)")
_BARE_AGE = re.compile(r"^(?:我|今年|我今年|已经)*(\d{1,3}|[一二三四五六七八九十]{1,4})(?:岁|周岁)?(?:了|啦)?$")


@dataclass(frozen=True)
class TimeOptions:
    """What the time question offers: free slots nearest the wish, then full ones inside it."""

    slots: list[dict[str, Any]]
    wanted: Wanted | None
    # "free": something free inside the wish; "full": only full slots inside it;
    # "none": no slot of this service inside it; None: no wish.
    status: str | None
    wanted_label: str | None


def wanted_label(wanted: Wanted, now: datetime) -> str:
    """后天 / 后天上午 / 后天14:00: the day, and the part of it the resident named."""
    day = day_label(wanted.start, now)
    near = day.split(" ")[0] if " " in day else day
    start, end = local(wanted.start), local(wanted.end)
    hours = (end - start).total_seconds() / 3600
    if hours >= 20:
        return near
    if hours <= 1:
        return f"{near}{start:%H:%M}"
    part = "上午" if start.hour < 11 else "中午" if start.hour < 13 else "下午" if start.hour < 18 else "晚上"
    return f"{near}{part}"


async def time_options(svc: BookingService, service: dict[str, Any], wanted: Wanted | None) -> TimeOptions:
    now = svc.clock()
    free = await svc.suggest(service, wanted, limit=MAX_FREE)
    if wanted is None:
        return TimeOptions(free, None, None, None)
    inside = [s for s in await svc.open_slots(service, now) if s.get("start") and overlaps(s, wanted)]
    free_inside = [s for s in inside if s["booked"] < s["capacity"]]
    full_inside = [s for s in inside if s["booked"] >= s["capacity"]][:MAX_FULL]
    status = "free" if free_inside else "full" if full_inside else "none"
    shown = free + [s for s in full_inside if s["_id"] not in {f["_id"] for f in free}]
    return TimeOptions(shown, wanted, status, wanted_label(wanted, now))


def option_title(slot: dict[str, Any], now: datetime) -> str:
    return slot_label(slot, now)


def exact_pick(options: TimeOptions) -> dict[str, Any] | None:
    """The one offered slot that starts exactly at the hour asked for ("明天11:30")."""
    wanted = options.wanted
    if wanted is None or (wanted.end - wanted.start).total_seconds() > 3600:
        return None
    hits = [s for s in options.slots if s.get("start") == wanted.start]
    return hits[0] if len(hits) == 1 else None


def _arabic(text: str) -> str:
    """Chinese digit runs before 年 as digits: 五二年 -> 52年, 一九五二年 -> 1952年."""
    return _RUN.sub(lambda m: "".join(_DIGIT[ch] for ch in m.group(0)), text)


def birth_year(text: str, this_year: int) -> int | None:
    """A birth year from "1952", "1952年", "五二年的", "52年生的", "73岁", "七十三"."""
    said = _arabic(words.plain(text))
    found = _YEAR4.search(said)
    year: int | None = None
    if found:
        year = int(found.group(1))
    elif (two := _YEAR2.search(said)) is not None:
        yy = int(two.group(1))
        year = 1900 + yy if 1900 + yy <= this_year - 10 else None
    elif (age := _AGE.search(said)) is not None:
        year = this_year - int(age.group(1))
    elif (bare := _BARE_AGE.match(said)) is not None:
        raw = bare.group(1)
        value = int(raw) if raw.isdigit() else words.number_of(raw)
        year = this_year - value if value and 1 <= value <= 110 else None
    if year is None or not this_year - 110 <= year <= this_year:
        return None
    return year
