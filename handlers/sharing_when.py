"""When a neighbour's help is needed, from the NLU's time entities and the words around them.

The time extractor reads "明天下午…四点半放学" as two times: 明天下午 (a vague 13:00 tomorrow) and
四点半 (04:30 today). Here they combine: the day from the span that names one (明天, 周六,
12月3日) or from the time already given, the clock from the span that names one, and 下午 /
晚上 / 傍晚 anywhere in the words turning 4:30 into 16:30. In a correction ("时间不对，是下午
四点半") only what follows the last correction marker counts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from handlers import words
from handlers.base import Turn

_DAY = re.compile(r"今天|明天|后天|大后天|今晚|明早|明晚|周[一二三四五六日天]|星期[一二三四五六日天]|礼拜|\d+月|\d+[号日]|下周|这周|本周")
_CLOCK = re.compile(r"\d+[:：]\d+|[点时]")
_LATE = re.compile(r"下午|晚上|傍晚|晚|夜里|黄昏")
_NOON = re.compile(r"中午")
_PERIODS = re.compile(r"早上|上午|中午|下午|傍晚|晚上|夜里")
_MARKER = re.compile(r"不对|说错了|错了|改成|改为|应该是|换成")


@dataclass
class When:
    at: datetime
    clock: bool  # a time of day was said (else only the day and maybe 下午)
    period: str = ""

    @property
    def label(self) -> str:
        day = f"{self.at.month}月{self.at.day}日"
        if self.clock:
            return f"{day} {self.at.hour:02d}:{self.at.minute:02d}"
        return f"{day} {self.period}".strip()

    @property
    def iso(self) -> str:
        return self.at.isoformat()


def _times(turn: Turn) -> list[dict[str, Any]]:
    text = turn.text or ""
    found = [e for e in turn.entities if e.get("entity") == "time" and e.get("value")]
    markers = list(_MARKER.finditer(text))
    if markers and found:
        after = [e for e in found if int(e.get("start") or 0) >= markers[-1].end()]
        found = after or found
    return found


def _span(turn: Turn, entity: dict[str, Any]) -> str:
    text = turn.text or ""
    start, end = entity.get("start"), entity.get("end")
    return text[start:end] if isinstance(start, int) and isinstance(end, int) and end <= len(text) else ""


def help_time(turn: Turn, current_iso: str | None = None) -> When | None:
    """The time the message says (combined as above), or None without a time entity."""
    ents = _times(turn)
    if not ents:
        return None
    all_ents = [e for e in turn.entities if e.get("entity") == "time" and e.get("value")]
    parsed = []
    for ent in ents:
        try:
            parsed.append((ent, datetime.fromisoformat(str(ent["value"])), _span(turn, ent)))
        except ValueError:
            continue
    if not parsed:
        return None
    text = turn.text or ""
    tail = text[int(ents[0].get("start") or 0):] if len(ents) < len(all_ents) else text
    def blur(ent: dict[str, Any]) -> bool:
        return (ent.get("additional_info") or {}).get("definition") == "blur"

    # Without a span (an entity given without offsets) the value is taken as it is.
    dated = next(((e, at, s) for e, at, s in parsed if _DAY.search(s) or not s), None)
    clocked = next(((e, at, s) for e, at, s in reversed(parsed)
                    if (_CLOCK.search(s) or not s) and not blur(e)), None)
    if dated is not None:
        day = dated[1]
    elif current_iso:
        day = datetime.fromisoformat(current_iso)
    else:
        whole_dated = next((e for e in all_ents if _DAY.search(_span(turn, e))), None)
        day = datetime.fromisoformat(str(whole_dated["value"])) if whole_dated else parsed[0][1]
    period_words = _PERIODS.findall(tail) or (_PERIODS.findall(dated[2]) if dated else [])
    period = period_words[-1] if period_words else ""
    if clocked is None:
        base = dated[1] if dated else parsed[0][1]
        return When(day.replace(hour=base.hour, minute=base.minute, second=0, microsecond=0), False, period)
    hour, minute = clocked[1].hour, clocked[1].minute
    if hour < 12 and (_LATE.search(period) or _LATE.search(clocked[2])):
        hour += 12
    elif hour < 3 and _NOON.search(period):
        hour += 12
    return When(day.replace(hour=hour, minute=minute, second=0, microsecond=0), True, period)


def plain_when(text: str) -> str | None:
    """A time said without anything the extractor resolves ("每周六上午"): kept as written."""
    said = words.plain(text)
    return text.strip()[:40] if said and not said.isdigit() and len(said) <= 30 else None
