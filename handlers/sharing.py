"""共享社区 in chat: find and borrow, share an item or skill, ask neighbours for help,
volunteer, and handle one's own requests. Numbered choices, one question a turn, and a
read-back before anything is committed.

Flows (state.flow / steps):
- "share_hub": the 邻里共享 menu (main-menu 5, or borrow_item without a thing named);
- "borrow": query -> pick -> start -> days -> confirm ("谁家有梯子" starts at pick);
- "share_new": kind -> title -> mode -> condition -> availability -> photo (WeChat) -> confirm;
- "help_new": kind -> when -> details -> confirm;
- "volunteer": pick -> confirm (take a neighbour's help request);
- "share_mine": pick -> act (accept / decline / hand over / returned / cancel);
- "help_mine": pick -> act (confirm completion / cancel).
Lists stay at 8 entries so 9 and 0 keep their global meaning (找人工 / 主菜单).
"""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any, Awaitable, Callable

from bot.messages import Button, Reply
from handlers.base import MENU_SELECT, Turn, registry
from services.sharing import CONDITIONS, HELP_KINDS, ContentRejected, SharingError, SharingService, search_words, today
from storage.residents import Resident
from storage.sharing import (
    ACCEPTED, GIVE, HANDED_OVER, ITEM, LEND, OPEN, REQUESTED, SKILL, TAKEN, WAITING,
)

HUB, BORROW, NEW, HELP, VOLUNTEER, MINE, HELP_MINE = (
    "share_hub", "borrow", "share_new", "help_new", "volunteer", "share_mine", "help_mine")
MAX_ITEMS = 8
PHOTO_CHANNELS = {"wechat"}
OWN_INTENTS = {"share_item", "borrow_item", "request_help"}
# Where a typed text is a thing to find, sharing or asking for help still starts those flows.
FINDING = {"borrow_item"}

_PUNCT = re.compile(r"[\s\W_]+")
YES = {"好", "好的", "是", "是的", "对", "对的", "确认", "确定", "可以", "行", "嗯", "没问题", "提交", "发布", "申请", "ok"}
NO = {"不", "不要", "不用", "不是", "不对", "不行", "算了", "否", "先不", "不了", "取消"}
SKIP = {"跳过", "没有", "不用", "无", "没", "不要", "没有照片", "不用了"}
HUB_OPTIONS = [
    ("1", "找东西借（梯子、电钻……）"), ("2", "分享物品或技能"), ("3", "请邻居帮忙（接孩子、陪老人、买菜）"),
    ("4", "看看谁需要帮忙"), ("5", "我的共享和借用"), ("6", "我的求助"),
]
HELP_WORDS: list[tuple[str, str]] = [
    ("pickup_child", r"接孩子|接小孩|接娃|送孩子|接送"),
    ("accompany_elder", r"陪老人|陪伴|陪.{0,3}(?:老人|奶奶|爷爷|外婆|外公|老伴|聊天|看病)|看护老人"),
    ("groceries", r"买菜|买东西|代购|带点菜|跑腿"),
]
SKILL_WORDS = re.compile(r"我会|会修|修理|通下水道|通马桶|家教|辅导|理发|技能|手艺|帮忙|上门")
GIVE_WORDS = re.compile(r"送|赠|不要了|闲置.{0,2}送|免费")
START_WORDS = {"今天": 0, "明天": 1, "后天": 2, "大后天": 3}
DAY_CHOICES = [("1", "一天", 1), ("2", "三天", 3), ("3", "一周", 7), ("4", "两周", 14)]
AVAILABILITY_CHOICES = [("1", "随时都可以"), ("2", "周末"), ("3", "工作日晚上")]
_CN_NUMBERS = {"一": 1, "两": 2, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
_DAYS = re.compile(r"(\d{1,2}|[一两二三四五六七八九十])\s*(天|日|周|个?星期|礼拜)")
# Words that mean "the sharing menu" rather than a thing to find.
_GENERIC = re.compile(r"^(?:邻里)?共享(?:社区)?$|^借东西$|^借$|^分享$|^我要借东西$|^想借东西$")


# -- small helpers (also used by handlers/points.py) ---------------------------------------


def plain(text: str) -> str:
    return _PUNCT.sub("", (text or "").lower())


def is_yes(turn: Turn) -> bool:
    return turn.text == "1" or plain(turn.text) in YES or (turn.intent == "affirm" and len(plain(turn.text)) <= 6)


def is_no(turn: Turn) -> bool:
    return turn.text == "2" or plain(turn.text) in NO or (turn.intent == "deny" and len(plain(turn.text)) <= 6)


def digit(turn: Turn, count: int) -> int | None:
    """The 1-based number picked from a list of `count`, or None."""
    if turn.intent == MENU_SELECT and turn.text.isdigit() and 1 <= int(turn.text) <= count:
        return int(turn.text)
    return None


def not_picked(turn: Turn, count: int) -> list[Reply] | None:
    """No number from the list: a wrong number is explained; anything else is left to the router."""
    return [turn.say("share_invalid", choice=turn.text, count=count)] if turn.intent == MENU_SELECT else None


def leaves(turn: Turn, own: set[str], threshold: float = 0.8) -> bool:
    """The message is confidently for another capability."""
    others = set(registry.titles) | {"report_status"}
    return turn.intent in others - own and turn.confidence >= threshold


async def resident_of(turn: Turn) -> Resident:
    settings = turn.services.settings
    return await turn.services.residents.for_user_key(turn.message.user_key, settings.default_community)


def _sharing(turn: Turn) -> SharingService:
    return turn.services.sharing


def number_buttons(options: list[tuple[str, str]]) -> list[Button]:
    return [Button(f"{key} {label}", key) for key, label in options]


def day_label(iso: str) -> str:
    day = date.fromisoformat(iso)
    return f"{day.month}月{day.day}日"


def _error(turn: Turn, exc: SharingError, end: bool = True) -> list[Reply]:
    if end:
        turn.state.end()
    return [turn.say("share_error", message=exc.zh)]


# -- entry points ------------------------------------------------------------------------------


@registry.on_intent("borrow_item")
async def borrow_item(turn: Turn) -> list[Reply]:
    """Main-menu 5, "谁家有梯子", "我想借个电钻"."""
    wanted = turn.entity("item")
    words = [str(wanted)] if wanted else ([] if turn.intent == MENU_SELECT or turn.text.isdigit() else search_words(turn.text))
    if not words or _GENERIC.match(plain(turn.text)):
        return [_hub(turn)]
    return await _search(turn, " ".join(words))


@registry.on_intent("share_item")
async def share_item(turn: Turn) -> list[Reply]:
    slots: dict[str, Any] = {}
    wanted = turn.entity("item")
    if wanted:
        slots.update(kind=ITEM, title=str(wanted)[:40])
    elif SKILL_WORDS.search(turn.text):
        slots["kind"] = SKILL
    if slots.get("kind") == ITEM and GIVE_WORDS.search(turn.text):
        slots["mode"] = GIVE
    turn.state.start(NEW, None, **slots)
    return [_ask_new(turn)]


@registry.on_intent("request_help")
async def request_help(turn: Turn) -> list[Reply]:
    slots: dict[str, Any] = {}
    for kind, pattern in HELP_WORDS:
        if re.search(pattern, turn.text):
            slots["kind"] = kind
            break
    when = turn.entity("time")
    if when:
        slots["when"] = _when_label(str(when))
    if slots.get("kind") and len(plain(turn.text)) >= 6:
        slots["details"] = turn.text[:200]
    turn.state.start(HELP, None, **slots)
    return [_ask_help(turn)]


def _hub(turn: Turn, note: str | None = None) -> Reply:
    turn.state.start(HUB, "menu")
    return turn.say("share_hub", options=HUB_OPTIONS, note=note, buttons=number_buttons(HUB_OPTIONS))


@registry.on_flow(HUB)
async def hub_flow(turn: Turn) -> list[Reply] | None:
    picked = digit(turn, len(HUB_OPTIONS))
    if picked is None:
        if turn.intent == MENU_SELECT:
            return [_hub(turn, note=f"没有“{turn.text}”这个选项。")]
        if leaves(turn, FINDING) or not turn.has_words:
            return None
        return await _search(turn, turn.text)  # "梯子": a thing to find
    starters: dict[int, Callable[[Turn], Awaitable[list[Reply]]]] = {
        1: _ask_query, 2: share_item_from_hub, 3: help_from_hub, 4: _volunteer_list, 5: _mine_list, 6: _help_mine_list,
    }
    return await starters[picked](turn)


async def share_item_from_hub(turn: Turn) -> list[Reply]:
    turn.state.start(NEW, None)
    return [_ask_new(turn)]


async def help_from_hub(turn: Turn) -> list[Reply]:
    turn.state.start(HELP, None)
    return [_ask_help(turn)]


# -- find and borrow -----------------------------------------------------------------------------


async def _ask_query(turn: Turn) -> list[Reply]:
    turn.state.start(BORROW, "query")
    return [turn.say("share_ask_query")]


async def _search(turn: Turn, text: str) -> list[Reply]:
    resident = await resident_of(turn)
    posts = await _sharing(turn).search(resident, text, MAX_ITEMS)
    posts = [p for p in posts if p.owner_id != resident.id] or posts
    words = " ".join(search_words(text)) or text
    turn.state.start(BORROW, "pick", ids=[p.id for p in posts], query=words[:20])
    if not posts:
        turn.state.step = "empty"
        options = [("1", "换个说法再找"), ("2", "发个求助问问邻居")]
        return [turn.say("share_results", posts=[], query=words, options=options, buttons=number_buttons(options))]
    return [turn.say("share_results", posts=posts, query=words, options=[], own=resident.id)]


@registry.on_flow(BORROW)
async def borrow_flow(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step, turn.state.slots
    if step == "query":
        if not turn.has_words or turn.intent == MENU_SELECT:
            return [turn.say("share_ask_query")]
        return await _search(turn, str(turn.entity("item") or turn.text))  # asked for a name: always a name
    if step == "empty":
        if turn.text == "1":
            return await _ask_query(turn)
        if turn.text == "2":
            turn.state.start(HELP, None, kind="other", details=f"谁家有{slots.get('query', '')}能借我用一下？"[:200])
            return [_ask_help(turn)]
        if leaves(turn, FINDING) or turn.intent == MENU_SELECT:
            return None
        return await _search(turn, turn.text)
    if step == "pick":
        picked = digit(turn, len(slots.get("ids", [])))
        if picked is None:
            if turn.intent == MENU_SELECT:
                return [turn.say("share_invalid", choice=turn.text, count=len(slots.get("ids", [])))]
            if leaves(turn, FINDING) or not turn.has_words:
                return None
            return await _search(turn, turn.text)  # another thing to find
        resident = await resident_of(turn)
        try:
            post = await _sharing(turn).visible_post(resident, slots["ids"][picked - 1])
        except SharingError as exc:
            return _error(turn, exc)
        if post.owner_id == resident.id:
            return [turn.say("share_error_keep", message="这是您自己分享的，请选别的。")]
        slots.update(post_id=post.id, post_title=post.title, post_kind=post.kind, post_mode=post.mode)
        turn.state.step = "start"
        options = [("1", "今天"), ("2", "明天"), ("3", "后天")]
        return [turn.say("share_borrow_start", post=post, options=options, again=False,
                         buttons=number_buttons(options))]
    if step == "start":
        start = _start_date(turn)
        if start is None:
            if leaves(turn, OWN_INTENTS, 0.95):
                return None
            options = [("1", "今天"), ("2", "明天"), ("3", "后天")]
            return [turn.say("share_borrow_start", post=None, options=options, again=True,
                             buttons=number_buttons(options))]
        slots["start"] = start.isoformat()
        if slots.get("post_mode") == GIVE:  # a gift has no return date
            slots["end"] = slots["start"]
            return [_borrow_confirm(turn)]
        turn.state.step = "days"
        options = [(key, label) for key, label, _ in DAY_CHOICES]
        return [turn.say("share_borrow_days", start=day_label(slots["start"]), options=options, again=False,
                         buttons=number_buttons(options))]
    if step == "days":
        days = _days(turn)
        if days is None or not 1 <= days <= 30:
            if leaves(turn, OWN_INTENTS, 0.95):
                return None
            options = [(key, label) for key, label, _ in DAY_CHOICES]
            return [turn.say("share_borrow_days", start=day_label(slots["start"]), options=options, again=True,
                             buttons=number_buttons(options))]
        slots["end"] = (date.fromisoformat(slots["start"]) + timedelta(days=days - 1)).isoformat()
        return [_borrow_confirm(turn)]
    if step == "confirm":
        if is_yes(turn):
            resident = await resident_of(turn)
            try:
                result = await _sharing(turn).request_borrow(
                    resident, slots["post_id"], date.fromisoformat(slots["start"]), date.fromisoformat(slots["end"]))
            except SharingError as exc:
                return _error(turn, exc)
            turn.state.end()
            return [turn.say("share_borrow_done", title=slots["post_title"], waiting=result.waiting_position,
                             give=slots.get("post_mode") == GIVE)]
        if is_no(turn):
            turn.state.end()
            return [turn.say("cancelled", had_flow=True)]
        if leaves(turn, OWN_INTENTS):
            return None
        return [_borrow_confirm(turn, again=True)]
    return None


def _borrow_confirm(turn: Turn, again: bool = False) -> Reply:
    slots = turn.state.slots
    turn.state.step = "confirm"
    options = [("1", "确认申请"), ("2", "取消")]
    return turn.say("share_borrow_confirm", title=slots["post_title"], start=day_label(slots["start"]),
                    end=day_label(slots["end"]), give=slots.get("post_mode") == GIVE, again=again,
                    options=options, buttons=number_buttons(options))


def _start_date(turn: Turn) -> date | None:
    base = today()
    if turn.intent == MENU_SELECT:
        return base + timedelta(days=int(turn.text) - 1) if turn.text in ("1", "2", "3") else None
    for word, offset in sorted(START_WORDS.items(), key=lambda kv: -len(kv[0])):
        if word in turn.text:
            return base + timedelta(days=offset)
    when = turn.entity("time")
    if when:
        try:
            day = datetime.fromisoformat(str(when)).date()
        except ValueError:
            return None
        return day if base <= day <= base + timedelta(days=60) else None
    return None


def _days(turn: Turn) -> int | None:
    if turn.intent == MENU_SELECT:
        return next((days for key, _, days in DAY_CHOICES if key == turn.text), None)
    match = _DAYS.search(turn.text)
    if not match:
        return None
    raw, unit = match.group(1), match.group(2)
    count = int(raw) if raw.isdigit() else _CN_NUMBERS[raw]
    return count * 7 if unit not in ("天", "日") else count


def _when_label(iso: str) -> str:
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return iso[:40]
    return f"{moment.month}月{moment.day}日 {moment.hour:02d}:{moment.minute:02d}"


# -- share an item or skill ------------------------------------------------------------------------

NEW_STEPS = ("kind", "title", "mode", "condition", "availability", "photo", "confirm")


def _next_new(turn: Turn) -> str:
    slots = turn.state.slots
    if not slots.get("kind"):
        return "kind"
    if not slots.get("title"):
        return "title"
    if slots["kind"] == ITEM and not slots.get("mode"):
        return "mode"
    if slots["kind"] == ITEM and not slots.get("condition"):
        return "condition"
    if not slots.get("availability"):
        return "availability"
    if turn.message.channel in PHOTO_CHANNELS and not slots.get("photo_done"):
        return "photo"
    return "confirm"


def _ask_new(turn: Turn, note: str | None = None, step: str | None = None) -> Reply:
    step = step or _next_new(turn)
    turn.state.step = step
    slots = turn.state.slots
    options: list[tuple[str, str]] = []
    if step == "kind":
        options = [("1", "物品（梯子、婴儿车、桌椅……）"), ("2", "技能（通下水道、修电器、辅导功课……）")]
    elif step == "mode":
        options = [("1", "借给邻居，用完归还"), ("2", "送给邻居")]
    elif step == "condition":
        options = [(str(i), label) for i, label in enumerate(CONDITIONS, 1)]
    elif step == "availability":
        options = list(AVAILABILITY_CHOICES)
    elif step == "photo":
        options = [("1", "跳过，不发照片")]
    elif step == "confirm":
        options = [("1", "确认发布"), ("2", "取消")]
    return turn.say(f"share_new_{step}", note=note, slots=slots, options=options,
                    kind_title="技能" if slots.get("kind") == SKILL else "物品",
                    mode_title="送给邻居" if slots.get("mode") == GIVE else "借给邻居",
                    buttons=number_buttons(options))


@registry.on_flow(NEW)
async def share_new_flow(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step or _next_new(turn), turn.state.slots
    photo = _photo_of(turn)
    if photo is not None:
        slots.update(photo=photo, photo_done=True)
        return [_ask_new(turn, note="收到照片。")]
    if step == "kind":
        picked = digit(turn, 2)
        if picked is None:
            if SKILL_WORDS.search(turn.text):
                picked = 2
            elif turn.entity("item"):
                picked, slots["title"] = 1, str(turn.entity("item"))[:40]
            elif leaves(turn, OWN_INTENTS) or turn.intent == MENU_SELECT or not turn.has_words:
                return None if turn.intent != MENU_SELECT else [_ask_new(turn, note=f"没有“{turn.text}”这个选项。")]
            else:
                return [_ask_new(turn, note="请回复 1 或 2。")]
        slots["kind"] = ITEM if picked == 1 else SKILL
        return [_ask_new(turn)]
    if step == "title":
        if turn.intent == MENU_SELECT or not turn.has_words:
            return [_ask_new(turn, note="请用文字写一下名称。")]
        title = turn.text.strip()[:40]
        verdict = await _sharing(turn).checker.check(title)
        if not verdict.ok:
            return [_ask_new(turn, note=verdict.reason, step="title")]
        slots["title"] = title
        return [_ask_new(turn)]
    if step == "mode":
        picked = digit(turn, 2)
        if picked is None and GIVE_WORDS.search(turn.text):
            picked = 2
        elif picked is None and "借" in turn.text:
            picked = 1
        if picked is None:
            return None if leaves(turn, OWN_INTENTS) else [_ask_new(turn, note="请回复 1 或 2。")]
        slots["mode"] = LEND if picked == 1 else GIVE
        return [_ask_new(turn)]
    if step == "condition":
        picked = digit(turn, len(CONDITIONS))
        if picked is None:
            match = next((c for c in CONDITIONS if c[:2] in turn.text), None)
            if match is None:
                return None if leaves(turn, OWN_INTENTS) else [_ask_new(turn, note="请回复数字。")]
            slots["condition"] = match
        else:
            slots["condition"] = CONDITIONS[picked - 1]
        return [_ask_new(turn)]
    if step == "availability":
        picked = digit(turn, len(AVAILABILITY_CHOICES))
        if picked is not None:
            slots["availability"] = AVAILABILITY_CHOICES[picked - 1][1]
        elif turn.has_words and turn.intent != MENU_SELECT:
            slots["availability"] = turn.text.strip()[:60]
        else:
            return [_ask_new(turn, note="请回复数字，或直接说什么时候方便。")]
        return [_ask_new(turn)]
    if step == "photo":
        if turn.text == "1" or plain(turn.text) in SKIP:
            slots["photo_done"] = True
            return [_ask_new(turn)]
        return None if leaves(turn, OWN_INTENTS) else [_ask_new(turn, note="请发一张照片，或回复 1 跳过。")]
    if step == "confirm":
        if is_yes(turn):
            resident = await resident_of(turn)
            try:
                post = await _sharing(turn).share(
                    resident, kind=slots["kind"], mode=slots.get("mode") or LEND, title=slots["title"],
                    condition=slots.get("condition") or "", availability=slots.get("availability") or "",
                    photo=slots.get("photo"))
            except ContentRejected as exc:
                slots.pop("title", None)
                return [_ask_new(turn, note=exc.zh, step="title")]
            except SharingError as exc:
                return _error(turn, exc)
            turn.state.end()
            return [turn.say("share_new_done", post=post, kind_title="技能" if post.kind == SKILL else "物品")]
        if is_no(turn):
            turn.state.end()
            return [turn.say("cancelled", had_flow=True)]
        return None if leaves(turn, OWN_INTENTS) else [_ask_new(turn, note="请回复 1 确认发布，或 2 取消。")]
    return None


def _photo_of(turn: Turn) -> dict[str, Any] | None:
    if turn.message.kind != "image" or not turn.message.media:
        return None
    media = turn.message.media
    return {"source": turn.message.channel, "media_id": media.get("media_id"), "url": media.get("pic_url")}


# -- ask for help ----------------------------------------------------------------------------------

HELP_KIND_OPTIONS = [(str(i), title) for i, title in enumerate(HELP_KINDS.values(), 1)]


def _next_help(turn: Turn) -> str:
    slots = turn.state.slots
    for step in ("kind", "when", "details"):
        if not slots.get(step):
            return step
    return "confirm"


def _ask_help(turn: Turn, note: str | None = None, step: str | None = None) -> Reply:
    step = step or _next_help(turn)
    turn.state.step = step
    slots = turn.state.slots
    options = HELP_KIND_OPTIONS if step == "kind" else ([("1", "确认发布"), ("2", "取消")] if step == "confirm" else [])
    return turn.say(f"share_help_{step}", note=note, options=options, slots=slots,
                    kind_title=HELP_KINDS.get(slots.get("kind") or "", ""), buttons=number_buttons(options))


@registry.on_flow(HELP)
async def help_flow(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step or _next_help(turn), turn.state.slots
    if step == "kind":
        picked = digit(turn, len(HELP_KIND_OPTIONS))
        kind = list(HELP_KINDS)[picked - 1] if picked else next(
            (k for k, pattern in HELP_WORDS if re.search(pattern, turn.text)), None)
        if kind is None:
            if turn.intent == MENU_SELECT:
                return [_ask_help(turn, note=f"没有“{turn.text}”这个选项。")]
            if leaves(turn, OWN_INTENTS) or not turn.has_words:
                return None
            kind, slots["details"] = "other", turn.text[:200]
        slots["kind"] = kind
        return [_ask_help(turn)]
    if step == "when":
        if turn.intent == MENU_SELECT or not turn.has_words:
            return [_ask_help(turn, note="请用文字说一下时间。")]
        when = turn.entity("time")
        slots["when"] = (_when_label(str(when)) + f"（{turn.text[:20]}）") if when else turn.text.strip()[:40]
        return [_ask_help(turn)]
    if step == "details":
        if turn.intent == MENU_SELECT or not turn.has_words:
            return [_ask_help(turn, note="请用文字说一下要帮什么、在哪里。")]
        verdict = await _sharing(turn).checker.check(turn.text)
        if not verdict.ok:
            return [_ask_help(turn, note=verdict.reason, step="details")]
        slots["details"] = turn.text.strip()[:200]
        return [_ask_help(turn)]
    if step == "confirm":
        if is_yes(turn):
            resident = await resident_of(turn)
            try:
                await _sharing(turn).ask_help(resident, kind=slots["kind"], details=slots["details"], when=slots["when"])
            except ContentRejected as exc:
                slots.pop("details", None)
                return [_ask_help(turn, note=exc.zh, step="details")]
            except SharingError as exc:
                return _error(turn, exc)
            turn.state.end()
            return [turn.say("share_help_done", kind_title=HELP_KINDS[slots["kind"]])]
        if is_no(turn):
            turn.state.end()
            return [turn.say("cancelled", had_flow=True)]
        return None if leaves(turn, OWN_INTENTS) else [_ask_help(turn, note="请回复 1 确认发布，或 2 取消。")]
    return None


# -- volunteer -------------------------------------------------------------------------------------


async def _volunteer_list(turn: Turn) -> list[Reply]:
    resident = await resident_of(turn)
    helps = await _sharing(turn).open_helps(resident, MAX_ITEMS)
    if not helps:
        turn.state.end()
        return [turn.say("share_volunteer_list", helps=[])]
    turn.state.start(VOLUNTEER, "pick", ids=[h.id for h in helps])
    return [turn.say("share_volunteer_list", helps=helps)]


@registry.on_flow(VOLUNTEER)
async def volunteer_flow(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step, turn.state.slots
    if step == "pick":
        picked = digit(turn, len(slots.get("ids", [])))
        if picked is None:
            return not_picked(turn, len(slots.get("ids", [])))
        found = await _sharing(turn).repo.get_help(slots["ids"][picked - 1])
        if found is None or found.state != OPEN:
            turn.state.end()
            return [turn.say("share_error", message="这个求助已经有邻居接了，谢谢您的热心！")]
        slots["help_id"] = found.id
        turn.state.step = "confirm"
        options = [("1", "我来帮忙"), ("2", "再看看")]
        return [turn.say("share_volunteer_detail", help=found, options=options, buttons=number_buttons(options))]
    if step == "confirm":
        if is_yes(turn):
            resident = await resident_of(turn)
            try:
                taken = await _sharing(turn).take_help(resident, slots["help_id"])
            except SharingError as exc:
                return _error(turn, exc)
            turn.state.end()
            return [turn.say("share_volunteer_done", help=taken)]
        if is_no(turn):
            return await _volunteer_list(turn)
        return None
    return None


# -- my sharing and borrowing ---------------------------------------------------------------------------


async def _mine_list(turn: Turn) -> list[Reply]:
    resident = await resident_of(turn)
    sharing = _sharing(turn)
    owned = await sharing.loans_to_handle(resident)
    borrowing = await sharing.my_borrowing(resident)
    entries = [("owner", loan) for loan in owned] + [("borrower", loan) for loan in borrowing]
    entries = entries[:MAX_ITEMS]
    posts = await sharing.repo.posts_of(resident.id, 5)
    if not entries:
        turn.state.end()
        return [turn.say("share_mine", entries=[], posts=posts)]
    turn.state.start(MINE, "pick", entries=[[role, loan.id] for role, loan in entries])
    return [turn.say("share_mine", entries=entries, posts=posts, day_label=day_label)]


LOAN_ACTIONS = {
    ("owner", REQUESTED): [("accept", "同意借出"), ("decline", "婉拒")],
    ("owner", ACCEPTED): [("hand_over", "东西已交给邻居（登记借出）")],
    ("owner", HANDED_OVER): [("returned", "东西已归还")],
    ("borrower", WAITING): [("cancel", "取消申请")],
    ("borrower", REQUESTED): [("cancel", "取消申请")],
    ("borrower", ACCEPTED): [("cancel", "取消申请")],
}
# The SharingService method behind each loan action.
LOAN_METHODS = {"accept": "accept", "decline": "decline", "hand_over": "hand_over", "returned": "mark_returned",
                "cancel": "cancel"}
ACTION_DONE = {
    "accept": "已同意，已通知邻居来拿。", "decline": "已婉拒，已告诉邻居。", "hand_over": "已登记借出，到期前会提醒邻居归还。",
    "returned": "已登记归还，谢谢您的分享！", "cancel": "已取消申请，已告诉主人。",
}


@registry.on_flow(MINE)
async def mine_flow(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step, turn.state.slots
    sharing = _sharing(turn)
    if step == "pick":
        picked = digit(turn, len(slots.get("entries", [])))
        if picked is None:
            return not_picked(turn, len(slots.get("entries", [])))
        role, loan_id = slots["entries"][picked - 1]
        loan = await sharing.repo.get_loan(loan_id)
        actions = LOAN_ACTIONS.get((role, loan.state), []) if loan else []
        if loan is None or not actions:
            return await _mine_list(turn)
        slots.update(role=role, loan_id=loan_id, actions=[a for a, _ in actions])
        turn.state.step = "act"
        options = [(str(i), label) for i, (_, label) in enumerate(actions, 1)]
        position = await sharing.queue_position(loan) if loan.state == WAITING else 0
        return [turn.say("share_loan_detail", loan=loan, role=role, options=options, position=position,
                         start=day_label(loan.start), end=day_label(loan.end), buttons=number_buttons(options))]
    if step == "act":
        picked = digit(turn, len(slots.get("actions", [])))
        if picked is None:
            return not_picked(turn, len(slots.get("actions", [])))
        action = slots["actions"][picked - 1]
        resident = await resident_of(turn)
        try:
            await getattr(sharing, LOAN_METHODS[action])(resident, slots["loan_id"])
        except SharingError as exc:
            return _error(turn, exc)
        turn.state.end()
        return [turn.say("share_done", message=ACTION_DONE[action])]
    return None


# -- my help requests ----------------------------------------------------------------------------------


async def _help_mine_list(turn: Turn) -> list[Reply]:
    resident = await resident_of(turn)
    sharing = _sharing(turn)
    entries = [("requester", h) for h in await sharing.my_helps(resident)]
    entries += [("volunteer", h) for h in await sharing.my_volunteering(resident)]
    entries = entries[:MAX_ITEMS]
    if not entries:
        turn.state.end()
        return [turn.say("share_help_mine", entries=[])]
    turn.state.start(HELP_MINE, "pick", entries=[[role, h.id] for role, h in entries])
    return [turn.say("share_help_mine", entries=entries)]


@registry.on_flow(HELP_MINE)
async def help_mine_flow(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step, turn.state.slots
    sharing = _sharing(turn)
    if step == "pick":
        picked = digit(turn, len(slots.get("entries", [])))
        if picked is None:
            return not_picked(turn, len(slots.get("entries", [])))
        role, help_id = slots["entries"][picked - 1]
        found = await sharing.repo.get_help(help_id)
        if found is None or role != "requester":
            turn.state.end()
            return [turn.say("share_done", message="谢谢您帮忙！等邻居确认完成后，积分会自动记到您的积分存折。")]
        actions = ([("complete", "邻居已帮我办好了（确认完成）")] if found.state == TAKEN else []) + [("cancel", "取消求助")]
        slots.update(help_id=help_id, actions=[a for a, _ in actions])
        turn.state.step = "act"
        options = [(str(i), label) for i, (_, label) in enumerate(actions, 1)]
        return [turn.say("share_help_detail", help=found, options=options, buttons=number_buttons(options))]
    if step == "act":
        picked = digit(turn, len(slots.get("actions", [])))
        if picked is None:
            return not_picked(turn, len(slots.get("actions", [])))
        action = slots["actions"][picked - 1]
        resident = await resident_of(turn)
        try:
            if action == "complete":
                await sharing.complete_help(resident, slots["help_id"])
                message = "好的，已确认完成，帮忙的邻居会获得积分。谢谢您的反馈！"
            else:
                await sharing.cancel_help(resident, slots["help_id"])
                message = "求助已取消。"
        except SharingError as exc:
            return _error(turn, exc)
        turn.state.end()
        return [turn.say("share_done", message=message)]
    return None

