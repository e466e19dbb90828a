"""Find and borrow (找东西借), on the flow engine (handlers/flow.py).

Flow "borrow": query -> post (numbered results of a search by meaning: jieba words +
synonyms, "梯子" finds 人字梯 and 折叠梯) -> start date -> days (not for gifts) -> read-back
-> request sent to the owner. "谁家有梯子啊，想借来换个灯泡" starts at the results; a new
thing named at the results searches again; no results offer 换个说法 / 发个求助.
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from handlers.messages import Reply
from handlers.base import Turn
from handlers.flow import engine
from handlers.flow_choices import Choice
from handlers.flow_spec import CannotHandle, Flow, Slot
from handlers.sharing_common import MAX_ITEMS, day_label, item_entity, resident_of, sharing
from handlers.sharing_text import elsewhere, free_text
from services.share_search import search_words
from services.sharing import SharingError, today
from storage.sharing import GIVE

BORROW = "borrow"
RETRY, ASK_HELP, REQUERY = "retry", "help", "requery"
START_WORDS = {"今天": 0, "明天": 1, "后天": 2, "大后天": 3}
WEEKDAYS = {"一": 0, "二": 1, "三": 2, "四": 3, "五": 4, "六": 5, "日": 6, "天": 6}
_WEEKDAY = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天])")
_CN = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_DAYS = re.compile(r"(\d{1,2}|[一两二三四五六七八九十])\s*(天|日|周|个?星期|礼拜)")
DAY_CHOICES = [(1, "一天"), (3, "三天"), (7, "一周"), (14, "两周")]


def query_of(turn: Turn, text: str | None = None) -> str | None:
    if text is None:
        return item_entity(turn)
    found = item_entity(turn) or " ".join(search_words(text))
    return found[:20] or None


def parse_query(turn: Turn, text: str) -> str | None:
    return None if elsewhere(turn) or not free_text(text) else query_of(turn, text)


async def post_choices(turn: Turn) -> list[Choice]:
    slots = turn.state.slots
    resident = await resident_of(turn)
    posts = await sharing(turn).search(resident, str(slots.get("query") or ""), MAX_ITEMS)
    posts = [p for p in posts if p.owner_id != resident.id] or posts
    slots["found"] = len(posts)
    if not posts:
        return [Choice(RETRY, "换个说法再找", ("换个说法", "再找找", "重新找")),
                Choice(ASK_HELP, "发个求助问问邻居", ("求助", "发求助", "问问邻居"))]
    return [Choice(p.id, _post_title(p), (p.title,)) for p in posts]


async def query_choices(turn: Turn) -> list[Choice]:
    """In elder mode, what neighbours have posted lately, as numbered names: a search by digits."""
    if not turn.state.elder_mode:
        return []
    resident = await resident_of(turn)
    titles: list[str] = []
    for post in await sharing(turn).search(resident, "", MAX_ITEMS * 2):
        if post.owner_id != resident.id and post.title not in titles:
            titles.append(post.title)
    return [Choice(title, title, (title,)) for title in titles[:MAX_ITEMS]]


def _post_title(post: Any) -> str:
    extra = "（技能）" if post.kind == "skill" else "（送）" if post.mode == GIVE else ""
    condition = f" · {post.condition}" if post.condition else ""
    return f"{post.title}{extra} · {post.state_title}{condition}"


def parse_other_query(turn: Turn, text: str) -> str | None:
    """Another thing named at the results ("那电钻呢"): search again."""
    found = parse_query(turn, re.sub(r"^那|呢$", "", text.strip()))
    if not found:
        return None
    turn.state.slots["query"] = found
    return REQUERY


async def after_post(turn: Turn, value: Any) -> list[Reply] | None:
    slots = turn.state.slots
    if value in (RETRY, REQUERY):
        if value == RETRY and "query" in engine.done(turn):
            slots.pop("query", None)
            engine.done(turn).remove("query")
        engine.done(turn).remove("post")
        slots.pop("post", None)
        return [await engine.ask(turn, FLOW, await engine.next_step(turn, FLOW))]
    if value == ASK_HELP:
        from handlers.sharing_help import start_help

        return await start_help(turn, kind="other", details=f"谁家有{slots.get('query', '')}能借我用一下？"[:200])
    resident = await resident_of(turn)
    try:
        post = await sharing(turn).visible_post(resident, str(value))
    except SharingError as exc:
        post, note = None, exc.zh
    else:
        note = "这是您自己分享的，请选别的。" if post.owner_id == resident.id else None
    if post is None or note:
        return [await engine.ask_afresh(turn, FLOW, "post", note)]
    slots.update(post_title=post.title, post_kind=post.kind, post_mode=post.mode, post_state=post.state,
                 post_condition=post.condition, post_availability=post.availability)
    return None


def _date_in(turn: Turn, text: str) -> str | None:
    base = today()
    for word, offset in sorted(START_WORDS.items(), key=lambda kv: -len(kv[0])):
        if word in text:
            return (base + timedelta(days=offset)).isoformat()
    weekday = _WEEKDAY.search(text)
    if weekday:
        ahead = (WEEKDAYS[weekday.group(1)] - base.weekday()) % 7
        return (base + timedelta(days=ahead + (7 if "下" in text[:weekday.start() + 1] else 0))).isoformat()
    return None


def start_from_message(turn: Turn) -> str | None:
    when = turn.entity("time")
    if not when:
        return None
    try:
        day = datetime.fromisoformat(str(when)).date()
    except ValueError:
        return None
    base = today()
    return day.isoformat() if base <= day <= base + timedelta(days=60) else None


def parse_start(turn: Turn, text: str) -> str | None:
    return None if elsewhere(turn) else _date_in(turn, text) or start_from_message(turn)


def start_choices(turn: Turn) -> list[Choice]:
    base = today()
    return [Choice((base + timedelta(days=n)).isoformat(), word) for n, word in enumerate(("今天", "明天", "后天"))]


def parse_days(turn: Turn, text: str) -> int | None:
    match = _DAYS.search(text)
    if not match or elsewhere(turn):
        return None
    raw, unit = match.group(1), match.group(2)
    count = int(raw) if raw.isdigit() else _CN[raw]
    days = count if unit in ("天", "日") else count * 7
    return days if 1 <= days <= 30 else None


def end_of(slots: dict[str, Any]) -> str:
    start = date.fromisoformat(slots["start"])
    if slots.get("post_mode") == GIVE:
        return start.isoformat()
    return (start + timedelta(days=int(slots.get("days") or 1) - 1)).isoformat()


def lends(turn: Turn) -> bool:
    return turn.state.slots.get("post_mode") != GIVE


SLOTS = [
    Slot("query", "要借的东西", "share_ask_query", words=("东西", "物品", "名字"), parse=parse_query,
         extract=query_of, choices=query_choices, parse_first=True),
    Slot("post", "借哪件", "share_results", words=("哪件", "哪个"), choices=post_choices, parse=parse_other_query,
         after=after_post, context=lambda turn: {"query": turn.state.slots.get("query") or ""},
         show=lambda turn, v: turn.state.slots.get("post_title") or ""),
    Slot("start", "开始日期", "share_borrow_start", words=("日期", "哪天", "开始", "时间", "日子"), choices=start_choices,
         parse=parse_start, extract=start_from_message, show=lambda turn, v: day_label(v) if v else "",
         looks_like=lambda text: bool(re.search(r"今天|明天|后天|周.|星期.|礼拜.", text))),
    Slot("days", "借几天", "share_borrow_days", words=("天数", "几天", "多久"), needed=lends, parse=parse_days,
         looks_like=lambda text: bool(_DAYS.search(text)),
         choices=lambda turn: [Choice(n, title, (f"{n}天",)) for n, title in DAY_CHOICES],
         context=lambda turn: {"start": day_label(turn.state.slots.get("start") or today().isoformat())},
         show=lambda turn, v: f"{v}天（至{day_label(end_of(turn.state.slots))}）" if v else ""),
]


async def submit(turn: Turn) -> list[Reply]:
    slots = turn.state.slots
    resident = await resident_of(turn)
    try:
        result = await sharing(turn).request_borrow(resident, slots["post"], date.fromisoformat(slots["start"]),
                                                    date.fromisoformat(end_of(slots)))
    except SharingError as exc:
        raise CannotHandle(exc.zh) from exc
    title, give = slots["post_title"], slots.get("post_mode") == GIVE
    turn.state.end()
    return [turn.say("share_borrow_done", title=title, waiting=result.waiting_position, give=give)]


FLOW = engine.register(Flow(
    name=BORROW, title="借用申请", slots=SLOTS, confirm_template="share_borrow_confirm", submit=submit,
    intents={"borrow_item"},
))


async def start_borrow(turn: Turn, **values: Any) -> list[Reply]:
    return await engine.start(turn, BORROW, **values)
