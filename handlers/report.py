"""Report a problem (报事) and follow it (查报事进度): the chat side of the grid's loop.

Flow "report", one question per step, skipping what the first message already said
("3栋门口路灯坏了" fills category, location and description):

    category -> location -> description -> photo (WeChat only) -> confirm -> saved

- category: from the NLU entity, a keyword, or a number from the list (1-8, 10-18:
  9 and 0 stay the global 找人工 / 主菜单 keys);
- location: text, a WeChat location message, or 跳过;
- photo: an image message, or 没有;
- confirm: 1 / 对 / affirm saves; 2 / 不对 / deny goes back one step; 修改地点 (类别,
  描述, 照片) jumps to that question; 取消 / 算了 (or the cancel intent) ends it.

Flow "report_status": the resident's active tickets, one ticket's details, and for a
resolved ticket a 1-5 rating (or 6: not fixed, back to the department).
"""
from __future__ import annotations

import re
from typing import Any

from bot.messages import Button, Reply
from bot.text import is_menu_key
from handlers.base import MENU_SELECT, Turn, registry
from services.reports import Created, NewReport, ReportError, Reporter, ReportService
from storage.reports import CHINA_TZ, RESOLVED, Report, find_ticket
from storage.routing import CATEGORIES

REPORT_FLOW, STATUS_FLOW = "report", "report_status"
STEPS = ("category", "location", "description", "photo", "confirm")
# Channels whose messages can carry a photo.
PHOTO_CHANNELS = {"wechat"}
MAX_CHAT_PHOTOS = 3

# Category list numbers: 9 and 0 are global keys (找人工 / 主菜单), so they are skipped.
CATEGORY_NUMBERS: dict[str, str] = dict(
    zip([str(n) for n in (*range(1, 9), *range(10, 19))], CATEGORIES)
)
NUMBER_OF = {category: number for number, category in CATEGORY_NUMBERS.items()}

# Words that pick a category when the NLU found no entity (checked in this order).
_CATEGORY_WORDS: list[tuple[str, str]] = [
    ("throwing", r"高空抛物|抛物|往下扔|往楼下扔|扔东西"),
    ("elevator", r"电梯"),
    ("fire", r"消防|灭火器|着火|火灾|烟雾"),
    ("streetlight", r"路灯|灯不亮|灯坏"),
    ("drainage", r"下水道|排水|堵塞|污水|积水|化粪池|沙井"),
    ("water", r"漏水|停水|水管|供水|爆管|水压"),
    ("garbage", r"垃圾"),
    ("vending", r"占道经营|摆摊|摊贩|小贩|流动摊"),
    ("parcel", r"快递|包裹|外卖"),
    ("parking", r"停车|乱停|车位|电动车|单车"),
    ("noise", r"噪音|扰民|太吵|吵闹|装修声"),
    ("greening", r"绿化|树木|树枝|草坪|花坛"),
    ("road", r"道路|路面|坑|人行道|破损"),
    ("facility", r"设施|健身器材|座椅|栏杆|井盖|路牌"),
    ("dispute", r"纠纷|矛盾|吵架"),
    ("security", r"治安|小偷|盗窃|可疑"),
    ("other", r"其他|其它|别的"),
]
_CATEGORY_NAMES = {name: category for category, name in CATEGORIES.items()}

_PUNCT = re.compile(r"[\s\W_]+")
_CANCEL = re.compile(r"^(取消|算了|不报了|不用报了|不用了|不要了|退出|结束|不弄了|不办了)")
_BACK = {"不对", "不是", "错了", "不对的", "不是的", "上一步", "返回", "返回上一步", "返回修改", "修改", "重填"}
_YES = {"对", "是", "是的", "对的", "确认", "确定", "提交", "确认提交", "好", "好的", "没问题", "可以", "行",
        "嗯", "ok", "对的提交", "没错"}
_SKIP = {"跳过", "不知道", "不清楚", "没有", "不用", "无", "没", "略过", "不确定", "没有照片", "不用了", "不要"}
_EDIT = re.compile(
    r"(?:修改|改一下|改|换|重新)(?:一下)?(?:个)?(?P<a>地点|位置|地址|类别|类型|分类|描述|情况|内容|照片|图片)"
    r"|(?P<b>地点|位置|地址|类别|类型|分类|描述|情况|内容|照片|图片)(?:不对|错了|有误|写错了)"
)
_EDIT_TARGETS = {
    "地点": "location", "位置": "location", "地址": "location",
    "类别": "category", "类型": "category", "分类": "category",
    "描述": "description", "情况": "description", "内容": "description",
    "照片": "photo", "图片": "photo",
}
_STATUS_WORDS = re.compile(
    r"怎么样了|进度|进展|到哪一步|到哪了|处理了没|处理了吗|处理得怎么样|办得怎么样|修好了没|修好了吗|"
    r"有结果|结果如何|查(?:一下|询)?(?:我的)?(?:报事|工单|报修)|我报的"
)
_EARLIER_REPORT = re.compile(r"报的|报了|报过|反映的|反映过|投诉的|投诉过|说的|说过|上次|上回|之前|单子|工单|催")
_GENERIC = re.compile(r"我要|我想|想要|要|报事|报修|反映|投诉|问题|一下|一个|个|帮我|有|事情|事|情况|我|请|你好|您好")
_NOT_FIXED = re.compile(r"没解决|没有解决|没修好|没好|还没好|还是坏|还坏着|没处理|不满意问题还在")

# Intents that leave the report flow for another capability (at structured steps).
_OTHERS_EXTRA = {"goodbye", "report_status"}


def _plain(text: str) -> str:
    return _PUNCT.sub("", text or "").lower()


def _reports(turn: Turn) -> ReportService:
    return turn.services.reports


def category_from_text(text: str) -> str | None:
    """A category named or described in `text` (keywords; the NLU entity comes first)."""
    plain = _plain(text)
    if plain in _CATEGORY_NAMES:
        return _CATEGORY_NAMES[plain]
    for category, pattern in _CATEGORY_WORDS:
        if re.search(pattern, plain):
            return category
    return None


def _substantive(text: str) -> bool:
    """True when the text says more than "我要报事" (so it can serve as the description)."""
    rest = _GENERIC.sub("", _plain(text))
    return len(rest) >= 2 and not is_menu_key(text)


def _entity_category(turn: Turn) -> str | None:
    value = turn.entity("category")
    return value if value in CATEGORIES else None


def _entity_location(turn: Turn) -> str | None:
    value = turn.entity("location")
    return str(value).strip()[:100] if value and str(value).strip() else None


def _leaves_flow(turn: Turn, threshold: float = 0.8) -> bool:
    """The message is confidently for another capability."""
    others = (set(registry.titles) | _OTHERS_EXTRA) - {"report_problem"}
    return turn.intent in others and turn.confidence >= threshold


def looks_like_status(turn: Turn) -> bool:
    return bool(find_ticket(turn.text)) or bool(_STATUS_WORDS.search(turn.text))


def _photos_enabled(turn: Turn) -> bool:
    return turn.message.channel in PHOTO_CHANNELS


def _photo_of(turn: Turn) -> dict[str, Any] | None:
    if turn.message.kind != "image" or not turn.message.media:
        return None
    media = turn.message.media
    return {"source": turn.message.channel, "media_id": media.get("media_id"), "url": media.get("pic_url")}


# -- report flow -----------------------------------------------------------------------


@registry.on_intent("report_problem")
async def start_report(turn: Turn) -> list[Reply]:
    if looks_like_status(turn):
        return await show_status(turn)
    turn.state.start(REPORT_FLOW, None, photos=[])
    slots = turn.state.slots
    category = _entity_category(turn)
    if category:
        slots["category"] = category
    location = _entity_location(turn)
    if location:
        slots["location_text"] = location
        slots["location_done"] = True
    if turn.message.kind in ("text", "voice"):
        if _substantive(turn.text):
            slots["description"] = turn.text[:500]
            if not category:
                guessed = category_from_text(turn.text)
                if guessed:
                    slots["category"] = guessed
    return [_ask_next(turn)]


def _next_step(turn: Turn) -> str:
    slots = turn.state.slots
    if not slots.get("category"):
        return "category"
    if not slots.get("location_done"):
        return "location"
    if not slots.get("description"):
        return "description"
    if _photos_enabled(turn) and not slots.get("photo_done"):
        return "photo"
    return "confirm"


def _previous_step(turn: Turn, step: str) -> str:
    order = [s for s in STEPS if s != "photo" or _photos_enabled(turn)]
    index = order.index(step) if step in order else len(order) - 1
    return order[max(0, index - 1)]


def _ask_next(turn: Turn, note: str | None = None) -> Reply:
    return _ask(turn, _next_step(turn), note)


def _ask(turn: Turn, step: str, note: str | None = None, again: bool = False) -> Reply:
    """Ask the question of `step` (and remember it as the current step)."""
    turn.state.step = step
    slots = turn.state.slots
    buttons: list[Button] = []
    context: dict[str, Any] = {"note": note, "again": again, "slots": slots,
                               "wechat": turn.message.channel == "wechat"}
    if step == "category":
        context["choices"] = [(number, CATEGORIES[c]) for number, c in CATEGORY_NUMBERS.items()]
        context["current"] = CATEGORIES.get(slots.get("category") or "")
    elif step == "confirm":
        context.update(_summary(slots))
        buttons = [Button("1 确认提交", "1"), Button("2 返回修改", "2")]
    return turn.say(f"report_ask_{step}", buttons=buttons, **context)


def _summary(slots: dict[str, Any]) -> dict[str, Any]:
    return {
        "category": CATEGORIES.get(slots.get("category") or "", "未选择"),
        "location": slots.get("location_text") or ("已发送的微信位置" if slots.get("lat") is not None else "未提供"),
        "description": slots.get("description") or "",
        "photo_count": len(slots.get("photos") or []),
    }


def _edit_target(turn: Turn) -> str | None:
    match = _EDIT.search(turn.text)
    if not match:
        return None
    target = _EDIT_TARGETS[match.group("a") or match.group("b")]
    if target == "photo" and not _photos_enabled(turn):
        return None
    return target


def _is_back(turn: Turn, structured: bool) -> bool:
    plain = _plain(turn.text)
    if plain in _BACK:
        return True
    return structured and turn.intent == "deny" and len(plain) <= 4


def _is_yes(turn: Turn) -> bool:
    return _plain(turn.text) in _YES or turn.text == "1" or (turn.intent == "affirm" and len(_plain(turn.text)) <= 6)


@registry.on_flow(REPORT_FLOW)
async def report_flow(turn: Turn) -> list[Reply] | None:
    state, slots = turn.state, turn.state.slots
    step = state.step or _next_step(turn)
    if turn.message.kind == "event":  # a WeChat menu click: another capability, or ask again
        if turn.intent != "report_problem":
            state.end()
            return None
        return [_ask(turn, step)]
    if turn.message.kind in ("text", "voice") and _CANCEL.match(_plain(turn.text)):
        state.end()
        return [turn.say("cancelled", had_flow=True)]
    # A WeChat location or photo is taken at any step.
    if turn.message.kind == "location" and turn.message.location is not None:
        loc = turn.message.location
        slots.update(lat=loc.latitude, lng=loc.longitude, location_done=True)
        if loc.label:
            slots["location_text"] = loc.label[:100]
        if step in ("location", "confirm"):
            return [_ask_next(turn, note="收到您的位置。")]
        return [_ask(turn, step, note="收到您的位置。")]
    photo = _photo_of(turn)
    if photo is not None:
        photos = slots.setdefault("photos", [])
        if len(photos) >= MAX_CHAT_PHOTOS:
            return [_ask(turn, step, note=f"最多{MAX_CHAT_PHOTOS}张照片，这张没有加上。")]
        photos.append(photo)
        slots["photo_done"] = True
        note = f"收到照片（共{len(photos)}张）。"
        if step in ("photo", "confirm"):
            return [_ask_next(turn, note=note)]
        return [_ask(turn, step, note=note)]
    target = _edit_target(turn)
    if target is not None:
        return [_ask(turn, target, again=True)]
    handler = {
        "category": _on_category,
        "location": _on_location,
        "description": _on_description,
        "photo": _on_photo,
        "confirm": _on_confirm,
    }.get(step)
    if handler is None:
        return [_ask_next(turn)]
    return await handler(turn)


async def _on_category(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    if _is_back(turn, structured=True) and slots.get("category"):
        return [_ask_next(turn)]
    if turn.intent == MENU_SELECT:
        category = CATEGORY_NUMBERS.get(turn.text)
        if category is None:
            return [_ask(turn, "category", note=f"没有“{turn.text}”这个选项。")]
    else:
        category = _entity_category(turn) or category_from_text(turn.text)
    if category is None:
        if _leaves_flow(turn):
            turn.state.end()
            return None
        return [_ask(turn, "category", note="没听明白是哪一类问题。")]
    slots["category"] = category
    if turn.intent != MENU_SELECT:
        location = _entity_location(turn)
        if location and not slots.get("location_done"):
            slots.update(location_text=location, location_done=True)
        if not slots.get("description") and _substantive(turn.text) and len(_plain(turn.text)) >= 4:
            slots["description"] = turn.text[:500]
    return [_ask_next(turn, note=f"好的，类别：{CATEGORIES[category]}。")]


async def _on_location(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    plain = _plain(turn.text)
    if _is_back(turn, structured=False):
        return [_ask(turn, _previous_step(turn, "location"), again=True)]
    if plain in _SKIP:
        slots.update(location_done=True, location_text=None, lat=None, lng=None)
        return [_ask_next(turn)]
    if not turn.has_words:
        return [_ask(turn, "location", note="没看清位置。")]
    location = _entity_location(turn)
    category = _entity_category(turn)
    if location is None and category and category != slots.get("category") and turn.intent == "report_problem":
        # "不对，是下水道堵了": a change of mind about the problem, not a place.
        slots["category"] = category
        if _substantive(turn.text):
            slots["description"] = turn.text[:500]
        return [_ask(turn, "location", note=f"好的，改为：{CATEGORIES[category]}。")]
    if location is None and _leaves_flow(turn, threshold=0.95):
        turn.state.end()
        return None
    # A short answer is the place as the resident wrote it ("5栋后门"); from a long
    # sentence keep the place the NLU found in it.
    place = turn.text if len(turn.text) <= 20 or location is None else location
    slots.update(location_text=place[:100], location_done=True, lat=None, lng=None)
    return [_ask_next(turn)]


async def _on_description(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    if _is_back(turn, structured=False):
        return [_ask(turn, _previous_step(turn, "description"), again=True)]
    if len(_plain(turn.text)) < 2:
        return [_ask(turn, "description", note="请多说几个字。")]
    slots["description"] = turn.text[:500]
    location = _entity_location(turn)
    if location and not slots.get("location_done"):
        slots.update(location_text=location, location_done=True)
    return [_ask_next(turn)]


async def _on_photo(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    # "没有" / "不用" answer the photo question ("no photo"); only explicit back words go back.
    if _plain(turn.text) in _SKIP or (turn.intent == "deny" and _plain(turn.text) not in _BACK):
        slots["photo_done"] = True
        return [_ask_next(turn)]
    if _is_back(turn, structured=True):
        return [_ask(turn, _previous_step(turn, "photo"), again=True)]
    if _leaves_flow(turn):
        turn.state.end()
        return None
    return [_ask(turn, "photo", note="请直接发送照片，没有照片请回复“没有”。")]


async def _on_confirm(turn: Turn) -> list[Reply] | None:
    if turn.text == "2" or _is_back(turn, structured=True):
        return [_ask(turn, _previous_step(turn, "confirm"), again=True)]
    if _is_yes(turn):
        return await _submit(turn)
    if _leaves_flow(turn):
        turn.state.end()
        return None
    return [_ask(turn, "confirm", note="请回复 1 确认提交，回复 2 返回修改，说“取消”就不报了。")]


async def _submit(turn: Turn) -> list[Reply]:
    services, slots = turn.services, turn.state.slots
    resident = await services.residents.for_user_key(turn.message.user_key, services.settings.default_community)
    reporter = Reporter(resident.id, turn.message.user_key, resident.community)
    new = NewReport(
        category=slots["category"],
        description=slots.get("description") or CATEGORIES[slots["category"]],
        location_text=slots.get("location_text"),
        latitude=slots.get("lat"),
        longitude=slots.get("lng"),
        photos=list(slots.get("photos") or []),
        source="chat",
    )
    try:
        created: Created = await _reports(turn).create(reporter, new)
    except ReportError as exc:
        return [_ask(turn, "confirm", note=f"没能提交：{exc}")]
    turn.state.end()
    report = created.report
    template = "report_linked" if created.duplicate else "report_submitted"
    return [turn.say(template, report=report, own_ticket=created.own_ticket, again=created.again,
                     category=CATEGORIES.get(report.category, ""), wechat=turn.message.channel == "wechat")]


# -- status flow -------------------------------------------------------------------------


@registry.on_intent("report_status")
async def report_status(turn: Turn) -> list[Reply]:
    """A problem described without pointing at an earlier report ("垃圾堆了好几天没人清理")
    is read by the NLU as either a new report or a follow-up; with nothing open it can
    only be new, so the report flow starts instead of "you have no open reports"."""
    if _describes_problem_afresh(turn) and not await _open_reports(turn):
        return await start_report(turn)
    return await show_status(turn)


def _describes_problem_afresh(turn: Turn) -> bool:
    if turn.message.kind not in ("text", "voice") or looks_like_status(turn) or _EARLIER_REPORT.search(turn.text):
        return False
    return bool(_entity_category(turn) or category_from_text(turn.text))


async def _open_reports(turn: Turn) -> list[Report]:
    resident = await turn.services.residents.find_by_user_key(turn.message.user_key)
    return await _reports(turn).for_resident(resident.id) if resident else []


async def show_status(turn: Turn) -> list[Reply]:
    """The ticket named in the message, or the resident's active tickets."""
    turn.state.end()
    resident = await turn.services.residents.find_by_user_key(turn.message.user_key)
    ticket = find_ticket(turn.text)
    if ticket:
        return [await _detail(turn, resident.id if resident else None, ticket)]
    reports = await _reports(turn).for_resident(resident.id) if resident else []
    if not reports:
        return [turn.say("report_status_none")]
    if len(reports) == 1:
        return [await _detail(turn, resident.id, reports[0].ticket, report=reports[0])]
    shown = reports[:9]
    turn.state.start(STATUS_FLOW, "pick", tickets=[r.ticket for r in shown])
    return [turn.say("report_status_list", reports=shown, categories=CATEGORIES, more=len(reports) > len(shown))]


async def _detail(turn: Turn, resident_id: str | None, ticket: str, report: Report | None = None) -> Reply:
    if report is None:
        try:
            if resident_id is None:
                raise ReportError("not found")
            report = await _reports(turn).get_for_resident(ticket, resident_id)
        except ReportError:
            turn.state.end()
            return turn.say("report_status_missing", ticket=ticket)
    can_rate = report.status == RESOLVED and report.reporter_id == resident_id and not report.rating
    if can_rate:
        turn.state.start(STATUS_FLOW, "rate", ticket=report.ticket)
    else:
        turn.state.end()
    return turn.say("report_status_detail", report=report, category=CATEGORIES.get(report.category, ""),
                    can_rate=can_rate, note=report.last_note(),
                    submitted_at=report.created_at.astimezone(CHINA_TZ).strftime("%m月%d日 %H:%M"))


@registry.on_flow(STATUS_FLOW)
async def status_flow(turn: Turn) -> list[Reply] | None:
    state, slots = turn.state, turn.state.slots
    resident = await turn.services.residents.find_by_user_key(turn.message.user_key)
    if resident is None:
        state.end()
        return None
    ticket = find_ticket(turn.text)
    if ticket:
        return [await _detail(turn, resident.id, ticket)]
    if state.step == "pick" and turn.intent == MENU_SELECT:
        tickets = slots.get("tickets") or []
        index = int(turn.text) - 1
        if 0 <= index < len(tickets):
            return [await _detail(turn, resident.id, tickets[index])]
        return [turn.say("invalid_choice", choice=turn.text)]
    if state.step == "rate":
        ticket = slots.get("ticket", "")
        stars = _stars(turn.text)
        service = _reports(turn)
        if stars is not None:
            state.end()
            try:
                report = await service.rate(ticket, resident.id, stars)
            except ReportError as exc:
                return [Reply(str(exc))]
            return [turn.say("report_rated", report=report, stars=stars)]
        if turn.text == "6" or _NOT_FIXED.search(turn.text):
            state.end()
            try:
                report = await service.reopen(ticket, resident.id, note=None if turn.text == "6" else turn.text[:200])
            except ReportError as exc:
                return [Reply(str(exc))]
            return [turn.say("report_reopened", report=report)]
    state.end()  # anything else: not for this flow (its numbers must not catch later menu picks)
    return None


_STAR_WORDS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}


def _stars(text: str) -> int | None:
    """1-5 from "5", "5分", "五星", "4 星"."""
    match = re.fullmatch(r"\s*([1-5一二两三四五])\s*(?:分|星|颗星)?\s*", text)
    if not match:
        return None
    raw = match.group(1)
    return int(raw) if raw.isdigit() else _STAR_WORDS[raw]
