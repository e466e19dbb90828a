"""Times for bookings: what a resident asked for, which slots fit it best, and how to say them.

Chinese expressions (明天中午, 下周一上午, 周六) are resolved by the NLU's JioNLP time
extractor (`nlu.time_extractor.resolve_times`) into a span [start, end]. This layer does not
import the NLU: the extractor is passed in (`Resolver`), wired by bot/bootstrap.py.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from domain.time import TZ

Resolver = Callable[[str, datetime], list[dict[str, Any]]]  # text, now -> time entities

WEEKDAY_ZH = "一二三四五六日"


@dataclass(frozen=True)
class Wanted:
    """The time span a resident asked for."""

    start: datetime
    end: datetime

    def as_slots(self) -> dict[str, str]:
        return {"want_from": self.start.isoformat(), "want_to": self.end.isoformat()}

    @classmethod
    def from_slots(cls, slots: dict[str, Any]) -> "Wanted | None":
        if not slots.get("want_from") or not slots.get("want_to"):
            return None
        return cls(datetime.fromisoformat(slots["want_from"]), datetime.fromisoformat(slots["want_to"]))


def wanted_from_entities(entities: Iterable[dict[str, Any]]) -> Wanted | None:
    """The first `time` entity (NLU output or `resolve_times`) as a span."""
    for ent in entities:
        if ent.get("entity") != "time" or not ent.get("value"):
            continue
        try:
            start = datetime.fromisoformat(str(ent["value"]))
            end_raw = (ent.get("additional_info") or {}).get("end")
            end = datetime.fromisoformat(end_raw) if end_raw else start + timedelta(hours=1)
        except ValueError:
            continue
        if start.tzinfo is None:
            start, end = start.replace(tzinfo=TZ), end.replace(tzinfo=TZ)
        return Wanted(start, max(end, start))
    return None


def wanted_from_text(text: str, now: datetime, resolve: Resolver | None) -> Wanted | None:
    """Resolve a date/time typed inside a flow (when the NLU did not run on it) with the
    NLU's time extractor `resolve` (None: no extractor, nothing is resolved)."""
    if resolve is None:
        return None
    return wanted_from_entities(resolve(text, now.astimezone(TZ)))


def overlaps(slot: dict[str, Any], wanted: Wanted) -> bool:
    """Whether a slot lies (partly) inside the wished span; touching ends do not count."""
    start = slot["start"]
    end = slot.get("end") or start
    if end == start:
        return wanted.start <= start <= wanted.end
    return start < wanted.end and end > wanted.start


def _distance(slot: dict[str, Any], wanted: Wanted) -> float:
    """Seconds between a slot and the wanted span; 0 when they overlap."""
    start = slot["start"]
    end = slot.get("end") or start
    if overlaps(slot, wanted):
        return 0.0
    if end <= wanted.start:
        return (wanted.start - end).total_seconds()
    return max(0.0, (start - wanted.end).total_seconds())


def rank_slots(slots: list[dict[str, Any]], wanted: Wanted | None, limit: int = 5) -> list[dict[str, Any]]:
    """The `limit` slots closest to `wanted`: those inside the wished span first (in time
    order), then the nearest others; without a wish, the earliest ones."""
    timed = [s for s in slots if s.get("start") is not None]
    if wanted is None:
        return sorted(timed, key=lambda s: s["start"])[:limit]
    return sorted(timed, key=lambda s: (not overlaps(s, wanted), _distance(s, wanted), s["start"]))[:limit]


def local(dt: datetime) -> datetime:
    return dt.astimezone(TZ)


def day_label(dt: datetime, now: datetime | None = None) -> str:
    """11月24日（周二），with 今天/明天/后天 when close."""
    d = local(dt)
    label = f"{d.month}月{d.day}日（周{WEEKDAY_ZH[d.weekday()]}）"
    if now is not None:
        delta = (d.date() - local(now).date()).days
        near = {0: "今天", 1: "明天", 2: "后天"}.get(delta)
        if near:
            label = f"{near} {label}"
    return label


def slot_label(slot: dict[str, Any], now: datetime | None = None) -> str:
    """11月24日（周二）11:30-12:30 午餐; a rental pool is just its unit name."""
    if slot.get("start") is None:
        return slot.get("title") or "辅具"
    start = local(slot["start"])
    text = f"{day_label(start, now)}{start:%H:%M}"
    if slot.get("end"):
        text += f"-{local(slot['end']):%H:%M}"
    if slot.get("title"):
        text += f" {slot['title']}"
    return text


def booking_when(booking: dict[str, Any], now: datetime | None = None) -> str:
    """When a booking takes place, or for a rental when to pick up and return it."""
    start = local(booking["start"])
    if booking.get("kind") == "rental":
        return f"{day_label(start, now)}{start:%H:%M}后领取，{day_label(booking['end'])}前归还"
    text = f"{day_label(start, now)}{start:%H:%M}"
    if booking.get("end"):
        text += f"-{local(booking['end']):%H:%M}"
    return text


def minutes_text(minutes: int) -> str:
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)}天"
    if minutes % 60 == 0:
        return f"{minutes // 60}小时"
    return f"{minutes}分钟"
