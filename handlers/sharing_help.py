"""Ask neighbours for help (请邻居帮忙) and volunteer (看看谁需要帮忙), on the flow engine.

Flow "help_new": kind -> when -> place -> details -> read-back -> published. The first
message fills what it says: "明天下午我要加班，能不能请个邻居帮我去华富小学接下孩子，四点半放学"
-> 接孩子, 12月3日 16:30 (handlers/sharing_when.py), 华富小学, and the message as details.
Flow "volunteer": help (the open requests) -> for 接孩子 the name and phone the parent gets
(asked only when the profile has none) -> read-back (the explicit consent) -> taken; the
requester is told who comes. "看看谁需要帮忙" (the menu's words) browses, it asks for nothing.
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from handlers.messages import Reply
from handlers.base import Turn, registry
from handlers.flow import engine
from handlers.flow_choices import Choice
from handlers.flow_spec import CannotHandle, Flow, Rejected, Slot
from handlers.sharing_common import MAX_ITEMS, resident_of, sharing
from handlers.sharing_text import elsewhere, free_text
from handlers.sharing_when import help_time, plain_when
from domain.time import TZ
from services.sharing import HELP_KINDS, ContentRejected, SharingError, today
from services.sharing_contact import PHONE, mask_phone
from storage.sharing import OPEN

HELP, VOLUNTEER = "help_new", "volunteer"
HELP_WORDS: list[tuple[str, str]] = [
    ("pickup_child", r"接.{0,2}(?:孩子|小孩|娃|儿子|女儿|小朋友)|送.{0,2}(?:孩子|小孩)|接送"),
    ("accompany_elder", r"陪老人|陪伴|陪.{0,3}(?:老人|奶奶|爷爷|外婆|外公|老伴|聊天|看病)|看护老人"),
    ("groceries", r"买菜|买东西|代购|带点菜|跑腿"),
]
KIND_WORDS = {"pickup_child": ("接孩子", "接小孩", "接送"), "accompany_elder": ("陪老人", "陪伴"),
              "groceries": ("买菜", "代购", "跑腿"), "other": ("其他", "别的")}
BROWSE = re.compile(r"(?:看看|看下|看一下|有)?(?:谁|哪些人|哪位|什么人|哪个邻居)(?:需要|要)帮忙|有什么(?:需要)?帮忙的|"
                    r"我(?:想|要|来|能|可以)帮(?:忙|邻居|别人)|(?:当|做)志愿者|帮帮邻居|我来接单")
_CORRECTION = re.compile(r"[，,。 ]*(?:时间|地点|地方)?(?:不对|说错了|改成|应该是).*$")


def kind_from_message(turn: Turn) -> str | None:
    return next((kind for kind, pattern in HELP_WORDS if re.search(pattern, turn.text)), None)


def _when_value(turn: Turn, found: Any) -> str | None:
    if found is None:
        return None
    turn.state.slots.setdefault("_when_iso", {})[found.label] = found.iso
    return found.label


def _current_iso(turn: Turn) -> str | None:
    slots = turn.state.slots
    return (slots.get("_when_iso") or {}).get(slots.get("when") or "")


def when_from_message(turn: Turn) -> str | None:
    return _when_value(turn, help_time(turn, _current_iso(turn)))


def parse_when(turn: Turn, text: str) -> str | None:
    found = _when_value(turn, help_time(turn, _current_iso(turn)))  # a time said: an answer, whatever the intent
    return found or (None if elsewhere(turn) else plain_when(text))


def place_from_message(turn: Turn) -> str | None:
    value = turn.entity("location")
    return str(value).strip()[:60] if value else None


def parse_place(turn: Turn, text: str) -> str | None:
    """A place named ("华富小学门口" reads as a report to the NLU: the span counts), or a short
    answer when the message is not for another capability."""
    said = free_text(text)
    if place_from_message(turn) and said and len(said) <= 30:
        return said[:60]
    return None if elsewhere(turn) or not said or len(said) > 30 else said[:60]


def details_from_message(turn: Turn) -> str | None:
    """The first message doubles as the details when it says more than "帮忙"."""
    if turn.state.step is not None or not kind_from_message(turn):
        return None
    text = _CORRECTION.sub("", turn.text).strip()
    return text[:200] if len(text) >= 6 else None


async def parse_details(turn: Turn, text: str) -> str | None:
    """Any words: a description reads like a report or a booking to the NLU (只有 取消 / 找人工 /
    主菜单 leave here, as at the report's description)."""
    said = free_text(text)
    if not said:
        return None
    verdict = await sharing(turn).checker.check(said)
    if not verdict.ok:
        raise Rejected(verdict.reason)
    return said[:200]


# Elder mode: every question of a help request answered by a digit (issue 12 item 6).
_ELDER_PERIODS = (("上午", 9), ("下午", 15))
_ELDER_DETAILS = {
    "pickup_child": ("帮忙接孩子放学，送到家", "帮忙送孩子上学"),
    "accompany_elder": ("陪老人去医院看病", "陪老人聊聊天、散散步"),
    "groceries": ("帮忙买菜送上门", "帮忙买点日用品送上门"),
    "other": ("需要邻居搭把手，见面细说",),
}


def when_choices(turn: Turn) -> list[Choice]:
    if not turn.state.elder_mode:
        return []
    base = today()
    out = []
    for offset, day in enumerate(("今天", "明天", "后天")):
        date_ = base + timedelta(days=offset)
        for period, hour in _ELDER_PERIODS:
            label = f"{date_.month}月{date_.day}日 {period}"
            at = datetime(date_.year, date_.month, date_.day, hour, tzinfo=TZ)
            turn.state.slots.setdefault("_when_iso", {})[label] = at.isoformat()
            out.append(Choice(label, f"{day}{period}"))
    return out


async def place_choices(turn: Turn) -> list[Choice]:
    if not turn.state.elder_mode:
        return []
    resident = await resident_of(turn)
    out = [Choice(resident.building, f"用登记的地址（{resident.building}）", ("登记的地址", "我家", "家里"))] \
        if resident.building else []
    return out + [Choice("", "跳过", ("不知道", "不清楚", "不用"))]


def details_choices(turn: Turn) -> list[Choice]:
    if not turn.state.elder_mode:
        return []
    return [Choice(text, text) for text in _ELDER_DETAILS.get(turn.state.slots.get("kind") or "other", ())]


HELP_SLOTS = [
    Slot("kind", "类型", "share_help_kind", words=("类型", "种类"), extract=kind_from_message,
         choices=lambda turn: [Choice(code, title, KIND_WORDS.get(code, ())) for code, title in HELP_KINDS.items()],
         show=lambda turn, v: HELP_KINDS.get(v or "", "")),
    Slot("when", "时间", "share_help_when", words=("时间", "几点", "日期", "哪天"), parse=parse_when,
         extract=when_from_message, choices=when_choices, parse_first=True, context=lambda turn: {"kind_title": HELP_KINDS.get(turn.state.slots.get("kind") or "", "")}),
    Slot("place", "地点", "share_help_place", words=("地点", "地方", "地址", "位置", "在哪"), parse=parse_place,
         extract=place_from_message, choices=place_choices, parse_first=True, skippable=True, skip_value="", show=lambda turn, v: v or "未填"),
    Slot("details", "内容", "share_help_details", words=("内容", "情况", "描述", "详情"), parse=parse_details,
         extract=details_from_message, choices=details_choices, parse_first=True),
]


async def submit_help(turn: Turn) -> list[Reply]:
    slots = turn.state.slots
    resident = await resident_of(turn)
    try:
        await sharing(turn).ask_help(resident, kind=slots["kind"], details=slots["details"], when=slots["when"],
                                     place=slots.get("place") or "")
    except ContentRejected as exc:
        return [await engine.ask_afresh(turn, HELP_FLOW, "details", exc.zh)]
    except SharingError as exc:
        raise CannotHandle(exc.zh) from exc
    kind_title = HELP_KINDS[slots["kind"]]
    turn.state.end()
    return [turn.say("share_help_done", kind_title=kind_title)]


HELP_FLOW = engine.register(Flow(
    name=HELP, title="求助", slots=HELP_SLOTS, confirm_template="share_help_confirm", submit=submit_help,
    intents={"request_help"},
))


async def start_help(turn: Turn, **values: Any) -> list[Reply]:
    return await engine.start(turn, HELP, **values)


@registry.on_intent("request_help")
async def request_help(turn: Turn) -> list[Reply]:
    """"明天下午能不能请个邻居帮我接孩子" asks; "看看谁需要帮忙" browses the open requests."""
    if BROWSE.search(turn.text) and not kind_from_message(turn):
        return await start_volunteer(turn)
    return await start_help(turn)


# -- volunteer ---------------------------------------------------------------------------


async def help_choices(turn: Turn) -> list[Choice]:
    helps = await sharing(turn).open_helps(await resident_of(turn), MAX_ITEMS)
    return [Choice(h.id, f"{h.kind_title} · {h.when} · {h.details[:20]}{'…' if len(h.details) > 20 else ''}")
            for h in helps]


async def after_help(turn: Turn, value: Any) -> list[Reply] | None:
    found = await sharing(turn).help_request(str(value))
    if found is None or found.state != OPEN:
        engine.done(turn).remove("help")
        return [await engine.ask(turn, VOLUNTEER_FLOW, "help", note="这个求助已经有邻居接了，请看看别的。")]
    resident = await resident_of(turn)
    turn.state.slots.update(help_kind=found.kind, help_title=found.kind_title, help_when=found.when,
                            help_details=found.details, help_place=found.place,
                            has_name=bool(resident.name), phone_on_file=mask_phone(resident.phone))
    return None


def pickup(turn: Turn) -> bool:
    return turn.state.slots.get("help_kind") == "pickup_child"


def parse_name(turn: Turn, text: str) -> str | None:
    said = None if elsewhere(turn) else free_text(text)
    said = re.sub(r"^(?:我是|我叫|叫我|您叫我|就叫)", "", said or "")
    return said[:10] if said and len(said) <= 10 else None


def parse_phone(turn: Turn, text: str) -> str | None:
    found = PHONE.search(text or "")
    if not found:
        raise Rejected("请写11位手机号（只发给这位家长）。")
    return found.group(1)


VOLUNTEER_SLOTS = [
    Slot("help", "求助", "share_volunteer_list", words=("求助", "哪个"), choices=help_choices, after=after_help,
         show=lambda turn, v: f"{turn.state.slots.get('help_title')} · {turn.state.slots.get('help_when')}"),
    Slot("name", "称呼", "share_volunteer_name", words=("称呼", "名字", "姓名"), parse=parse_name,
         needed=lambda turn: pickup(turn) and not turn.state.slots.get("has_name")),
    Slot("phone", "电话", "share_volunteer_phone", words=("电话", "手机号", "号码"), parse=parse_phone, digits=True,
         needed=lambda turn: pickup(turn) and not turn.state.slots.get("phone_on_file"), show=lambda turn, v: mask_phone(v)),
]


async def submit_volunteer(turn: Turn) -> list[Reply]:
    slots = turn.state.slots
    resident = await resident_of(turn)
    phone = (slots.get("phone") or resident.phone) if pickup(turn) else None
    try:
        taken = await sharing(turn).take_help(resident, slots["help"], phone=phone, name=slots.get("name"))
    except SharingError as exc:
        raise CannotHandle(exc.zh) from exc
    turn.state.end()
    return [turn.say("share_volunteer_done", help=taken, pickup=bool(phone))]


VOLUNTEER_FLOW = engine.register(Flow(
    name=VOLUNTEER, title="接下求助", slots=VOLUNTEER_SLOTS, confirm_template="share_volunteer_confirm",
    submit=submit_volunteer,
))


async def start_volunteer(turn: Turn) -> list[Reply]:
    if not await help_choices(turn):
        turn.state.end()
        return [turn.say("share_volunteer_list", choices=[], more=None, more_key=8, note=None, again=False,
                         current=None, offer_human=False)]
    turn.state.slots = {}
    return await engine.start(turn, VOLUNTEER)
