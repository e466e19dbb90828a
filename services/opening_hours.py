"""Opening hours of stations: per weekday a list of [open, close] "HH:MM" in Asia/Shanghai.

- `parse_hours("周一至周五 09:00-12:00,14:00-18:00；周六、周日 09:00-17:00")` -> Hours.
  Also "24小时" / "全天" / "24h", "每天 08:00-22:00", English days ("mon-fri"),
  "周日 休息" (closed), and overnight ranges ("22:00-02:00" runs into the next day).
  Later segments override earlier ones for the days they name.
- `week_intervals(hours)`: the open minutes of the week as [{"s", "e"}] (Monday 00:00 = 0,
  end exclusive, at most 10080), stored with a station so that "open now" is a database
  filter: {"open_week": {"$elemMatch": {"s": {"$lte": m}, "e": {"$gt": m}}}}.
- `minute_of_week(dt)`, `is_open`, `open_until`, `next_opening`: "open now" questions
  for an injectable clock.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from domain.time import TZ

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_NAMES = {"mon": "周一", "tue": "周二", "wed": "周三", "thu": "周四", "fri": "周五", "sat": "周六", "sun": "周日"}
WEEK_MINUTES = 7 * 1440
FULL_DAY = ("00:00", "24:00")

Hours = dict[str, list[list[str]]]

_DAY_WORDS: dict[str, int] = {}
for _i, _zh in enumerate("一二三四五六日"):
    for _prefix in ("周", "星期", "礼拜"):
        _DAY_WORDS[_prefix + _zh] = _i
for _prefix in ("周", "星期", "礼拜"):
    _DAY_WORDS[_prefix + "天"] = 6
for _i, _en in enumerate(DAYS):
    _DAY_WORDS[_en] = _i
for _i, _en in enumerate(("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")):
    _DAY_WORDS[_en] = _i
_DAY_PATTERN = "|".join(sorted((re.escape(w) for w in _DAY_WORDS), key=len, reverse=True))
_DAY_TOKEN = re.compile(_DAY_PATTERN, re.IGNORECASE)
_DAY_RANGE = re.compile(rf"({_DAY_PATTERN})\s*(?:至|到|-|－|–|—|~|～)\s*({_DAY_PATTERN})", re.IGNORECASE)
_EVERY_DAY = re.compile(r"每天|每日|天天|全周|daily|every\s*day|周一至周日", re.IGNORECASE)
_WEEKDAYS = re.compile(r"工作日|weekdays?", re.IGNORECASE)
_WEEKEND = re.compile(r"周末|双休日|weekends?", re.IGNORECASE)
_ALWAYS = re.compile(r"^\s*(?:24\s*(?:小时|h|hours?)|全天(?:候)?|全天开放|24/7)\s*$", re.IGNORECASE)
_CLOSED = re.compile(r"休息|闭馆|关闭|不开放|closed|off", re.IGNORECASE)
_FULL_DAY_WORDS = re.compile(r"24\s*(?:小时|h|hours?)|全天", re.IGNORECASE)
_TIME = r"(\d{1,2})[:：点](\d{2})?"
_RANGE = re.compile(rf"{_TIME}\s*(?:-|－|–|—|~|～|至|到)\s*{_TIME}")
_SEGMENTS = re.compile(r"[;；\n]+")


class HoursError(ValueError):
    """Opening hours that cannot be read (Chinese message for staff)."""


def _minutes(hour: str, minute: str | None, *, closing: bool) -> int:
    h, m = int(hour), int(minute or 0)
    if m > 59 or h > 24 or (h == 24 and m) or (h == 24 and not closing):
        raise HoursError(f"时间“{hour}:{minute or '00'}”不正确")
    return h * 60 + m


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _days_of(text: str) -> list[int] | None:
    """The weekdays a segment names (None: it names none, so every day)."""
    days: set[int] = set()
    rest = text
    for match in _DAY_RANGE.finditer(text):
        a, b = _DAY_WORDS[match.group(1).lower()], _DAY_WORDS[match.group(2).lower()]
        days.update(range(a, b + 1) if a <= b else [*range(a, 7), *range(0, b + 1)])
        rest = rest.replace(match.group(0), " ")
    if _EVERY_DAY.search(rest):
        days.update(range(7))
    if _WEEKDAYS.search(rest):
        days.update(range(5))
    if _WEEKEND.search(rest):
        days.update((5, 6))
    days.update(_DAY_WORDS[m.group(0).lower()] for m in _DAY_TOKEN.finditer(rest))
    return sorted(days) if days else None


def _ranges_of(text: str) -> list[list[str]]:
    ranges = []
    for match in _RANGE.finditer(text):
        start = _minutes(match.group(1), match.group(2), closing=False)
        end = _minutes(match.group(3), match.group(4), closing=True)
        if start == end:
            raise HoursError(f"“{match.group(0)}”开门和关门时间相同")
        ranges.append([_hhmm(start), _hhmm(end)])
    return ranges


def parse_hours(text: str) -> Hours:
    """Opening hours from the way staff write them; raises HoursError when unreadable."""
    text = (text or "").strip()
    if not text:
        raise HoursError("请填写开放时间")
    if _ALWAYS.match(text):
        return always_open()
    hours: Hours = {}
    for segment in _SEGMENTS.split(text):
        segment = segment.strip(" ，,。")
        if not segment:
            continue
        days = _days_of(segment)
        if _CLOSED.search(segment) and not _RANGE.search(segment):
            ranges: list[list[str]] = []
        elif _FULL_DAY_WORDS.search(segment) and not _RANGE.search(segment):
            ranges = [list(FULL_DAY)]
        else:
            ranges = _ranges_of(segment)
            if not ranges:
                raise HoursError(f"看不懂“{segment}”，请写成“周一至周五 09:00-18:00”这样的格式")
        for day in days if days is not None else range(7):
            hours[DAYS[day]] = [list(r) for r in ranges]
    return {day: sorted(ranges) for day, ranges in hours.items() if ranges}


def always_open() -> Hours:
    return {day: [list(FULL_DAY)] for day in DAYS}


def validate_hours(hours: Any) -> Hours:
    """A stored/submitted Hours value checked and normalised (raises HoursError)."""
    if not isinstance(hours, dict):
        raise HoursError("开放时间格式不正确")
    clean: Hours = {}
    for day, ranges in hours.items():
        if day not in DAYS or not isinstance(ranges, list):
            raise HoursError(f"开放时间里的“{day}”不是星期几")
        out = []
        for pair in ranges:
            if not (isinstance(pair, (list, tuple)) and len(pair) == 2 and all(isinstance(p, str) for p in pair)):
                raise HoursError("开放时间必须是 [开门, 关门] 两个“HH:MM”")
            parsed = _ranges_of(f"{pair[0]}-{pair[1]}")
            if len(parsed) != 1:
                raise HoursError(f"时间“{pair[0]}-{pair[1]}”不正确")
            out.append(parsed[0])
        if out:
            clean[day] = sorted(out)
    return clean


def week_intervals(hours: Hours) -> list[dict[str, int]]:
    """Open minutes of the week, merged; overnight ranges continue into the next day."""
    spans: list[tuple[int, int]] = []
    for index, day in enumerate(DAYS):
        base = index * 1440
        for open_, close in hours.get(day, []):
            start = _minutes(*open_.split(":"), closing=False)
            end = _minutes(*close.split(":"), closing=True)
            if end > start:
                spans.append((base + start, base + end))
            else:  # past midnight
                spans.append((base + start, base + 1440))
                tomorrow = (base + 1440) % WEEK_MINUTES
                if end:
                    spans.append((tomorrow, tomorrow + end))
    spans.sort()
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [{"s": s, "e": e} for s, e in merged]


def minute_of_week(moment: datetime) -> int:
    local = (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(TZ)
    return local.weekday() * 1440 + local.hour * 60 + local.minute


def open_now_filter(moment: datetime) -> dict[str, Any]:
    """The Mongo filter of stations open at `moment`."""
    m = minute_of_week(moment)
    return {"open_week": {"$elemMatch": {"s": {"$lte": m}, "e": {"$gt": m}}}}


def _containing(intervals: list[dict[str, int]], m: int) -> dict[str, int] | None:
    for span in intervals:
        if span["s"] <= m < span["e"]:
            return span
    return None


def is_open(intervals: list[dict[str, int]], moment: datetime) -> bool:
    return _containing(intervals, minute_of_week(moment)) is not None


@dataclass(frozen=True)
class WhenText:
    """When something happens, relative to now: "今天 18:00", "明天 08:00"."""

    days_ahead: int
    weekday: int
    time: str

    def __str__(self) -> str:
        if self.days_ahead == 0:
            return f"今天{self.time}"
        if self.days_ahead == 1:
            return f"明天{self.time}"
        if self.days_ahead == 2:
            return f"后天{self.time}"
        return f"{DAY_NAMES[DAYS[self.weekday]]}{self.time}"


def _when(now_minute: int, target: int, *, closing: bool = False) -> WhenText:
    """`target` (minutes from this week's Monday, may pass the week's end) seen from now;
    a closing time at midnight is said as 24:00 of the day before."""
    if closing and target % 1440 == 0:
        day, time = target // 1440 - 1, "24:00"
    else:
        day, time = target // 1440, _hhmm(target % 1440)
    return WhenText(day - now_minute // 1440, day % 7, time)


def always(intervals: list[dict[str, int]]) -> bool:
    return len(intervals) == 1 and intervals[0]["s"] == 0 and intervals[0]["e"] >= WEEK_MINUTES


def open_until(intervals: list[dict[str, int]], moment: datetime) -> WhenText | None:
    """When an open station closes (None: closed now, or open around the clock)."""
    m = minute_of_week(moment)
    span = _containing(intervals, m)
    if span is None or always(intervals):
        return None
    end = span["e"]
    if end >= WEEK_MINUTES:  # Sunday night running into Monday
        first = intervals[0]
        end = WEEK_MINUTES + (first["e"] if first["s"] == 0 else 0)
    return _when(m, end, closing=True)


def next_opening(intervals: list[dict[str, int]], moment: datetime) -> WhenText | None:
    """When a closed station opens next (None: never open)."""
    if not intervals:
        return None
    m = minute_of_week(moment)
    for span in intervals:
        if span["s"] > m:
            return _when(m, span["s"])
    return _when(m, WEEK_MINUTES + intervals[0]["s"])


def format_hours(hours: Hours) -> str:
    """Readable and parseable again: "周一至周五 09:00-12:00,14:00-18:00；周六、周日 09:00-17:00"."""
    if hours == always_open():
        return "24小时"
    groups: list[tuple[list[int], tuple]] = []
    for index, day in enumerate(DAYS):
        key = tuple(tuple(r) for r in hours.get(day, []))
        if groups and groups[-1][1] == key and groups[-1][0][-1] == index - 1:
            groups[-1][0].append(index)
        else:
            groups.append(([index], key))
    parts = []
    for days, key in groups:
        if not key:
            continue
        if len(days) == 7:
            label = "每天"
        elif len(days) >= 3:
            label = f"{DAY_NAMES[DAYS[days[0]]]}至{DAY_NAMES[DAYS[days[-1]]]}"
        else:
            label = "、".join(DAY_NAMES[DAYS[d]] for d in days)
        times = "、".join("全天" if r == FULL_DAY else f"{r[0]}-{r[1]}" for r in key)
        parts.append(f"{label} {times}")
    return "；".join(parts) if parts else "暂停开放"


def day_hours_text(hours: Hours, day: str) -> str:
    """One weekday's hours for a form field: "09:00-12:00,14:00-18:00" ("" when closed)."""
    return ",".join(f"{a}-{b}" for a, b in hours.get(day, []))
