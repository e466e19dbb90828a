"""Share an item or a skill (分享物品或技能), on the flow engine (handlers/flow.py).

Flow "share_new": kind -> title -> mode (items) -> condition (items) -> availability ->
photo (WeChat only) -> read-back -> published. The first message fills what it says:
"我家有把人字梯平时用不上，想借给邻居用" -> 物品, 人字梯, 借给邻居, then 新旧 is asked.
The repair cases (correction, cancel, skip, back, digression, repeat, 找人工) are the engine's.
"""
from __future__ import annotations

import re
from typing import Any

from handlers.messages import Reply
from handlers.base import Turn, registry
from handlers.flow import engine
from handlers.flow_choices import Choice
from handlers.flow_spec import CannotHandle, Flow, Rejected, Slot
from handlers.sharing_common import item_entity, resident_of, sharing
from handlers.sharing_text import elsewhere, free_text
from services.sharing import CONDITIONS, ContentRejected, SharingError
from storage.sharing import GIVE, ITEM, LEND, SKILL

NEW = "share_new"
PHOTO_CHANNELS = {"wechat"}
SKILL_WORDS = re.compile(r"我会|会修|修理|通下水道|通马桶|家教|辅导|理发|技能|手艺|上门")
GIVE_WORDS = re.compile(r"送给|送人|送邻居|赠|不要了|免费|白送|想送|送出")
LEND_WORDS = re.compile(r"借给|借出|出借|可以借|能借|外借|借邻居")
_SKILL_LEAD = re.compile(r"^(?:我会|我可以|可以帮忙|能帮忙|帮邻居)")

KIND_CHOICES = [Choice(ITEM, "物品（梯子、婴儿车、桌椅……）", ("物品", "东西", "物件", "闲置")),
                Choice(SKILL, "技能（通下水道、修电器、辅导功课……）", ("技能", "手艺", "我会"))]
MODE_CHOICES = [Choice(LEND, "借给邻居，用完归还", ("借", "借给", "借出", "出借", "借给邻居")),
                Choice(GIVE, "送给邻居", ("送", "送人", "赠送", "不要了", "免费送"))]
CONDITION_WORDS = {"全新": ("新的", "没用过", "崭新"), "九成新": ("很新", "八成新", "挺新"),
                   "有使用痕迹，能正常用": ("旧的", "用过", "能用", "有点旧", "旧")}
AVAILABILITY = ["随时都可以", "周末", "工作日晚上"]


def kind_of_message(turn: Turn) -> str | None:
    if SKILL_WORDS.search(turn.text):
        return SKILL
    return ITEM if item_entity(turn) else None


def title_from_message(turn: Turn) -> str | None:
    if turn.state.slots.get("kind") == SKILL:
        if turn.state.step is None:  # the first message: "我会通下水道"
            found = SKILL_WORDS.search(turn.text)
            rest = _SKILL_LEAD.sub("", turn.text[found.start():] if found else "").strip("，。 ")
            return rest[:40] if 2 <= len(rest) <= 20 else None
        return None
    return item_entity(turn)


async def parse_title(turn: Turn, text: str) -> str | None:
    if elsewhere(turn):
        return None
    title = _SKILL_LEAD.sub("", free_text(text) or "").strip()[:40]
    if not title:
        return None
    verdict = await sharing(turn).checker.check(title)
    if not verdict.ok:
        raise Rejected(verdict.reason)
    return title


def mode_from_message(turn: Turn) -> str | None:
    if GIVE_WORDS.search(turn.text):
        return GIVE
    return LEND if LEND_WORDS.search(turn.text) else None


def parse_availability(turn: Turn, text: str) -> str | None:
    return None if elsewhere(turn) else (free_text(text) or "")[:60] or None


def is_item(turn: Turn) -> bool:
    """Items have a mode and a condition (also while the kind is not known yet, so the first
    message's "送人" is kept)."""
    return turn.state.slots.get("kind") != SKILL


SLOTS = [
    Slot("kind", "类型", "share_new_kind", words=("类型", "种类"), choices=lambda turn: KIND_CHOICES,
         extract=kind_of_message, show=lambda turn, v: "技能" if v == SKILL else "物品"),
    Slot("title", "名称", "share_new_title", words=("名称", "名字", "东西", "标题"), parse=parse_title,
         extract=title_from_message),
    Slot("mode", "借还是送", "share_new_mode", words=("借还是送", "方式"), choices=lambda turn: MODE_CHOICES,
         extract=mode_from_message, needed=is_item, show=lambda turn, v: "送给邻居" if v == GIVE else "借给邻居"),
    Slot("condition", "新旧", "share_new_condition", words=("新旧", "成色"), needed=is_item,
         choices=lambda turn: [Choice(c, c, CONDITION_WORDS.get(c, ())) for c in CONDITIONS]),
    Slot("availability", "方便时间", "share_new_availability", words=("时间", "方便时间", "什么时候"),
         choices=lambda turn: [Choice(a, a) for a in AVAILABILITY], parse=parse_availability),
    Slot("photo", "照片", "share_new_photo", words=("照片", "图片"), skippable=True, skip_value=None,
         choices=lambda turn: [Choice("none", "跳过，不发照片")],
         needed=lambda turn: turn.message.channel in PHOTO_CHANNELS,
         show=lambda turn, v: "1张" if isinstance(v, dict) else "不发"),
]


async def on_media(turn: Turn) -> list[Reply] | None:
    if turn.message.kind != "image" or not turn.message.media:
        return None
    media = turn.message.media
    photo = {"source": turn.message.channel, "media_id": media.get("media_id"), "url": media.get("pic_url")}
    engine.set_value(turn, SHARE.slot("photo"), photo)
    return [await engine.ask(turn, SHARE, await engine.next_step(turn, SHARE), note="收到照片。")]


async def submit(turn: Turn) -> list[Reply]:
    slots = turn.state.slots
    resident = await resident_of(turn)
    photo = slots.get("photo") if isinstance(slots.get("photo"), dict) else None
    try:
        post = await sharing(turn).share(
            resident, kind=slots["kind"], mode=slots.get("mode") or LEND, title=slots["title"],
            condition=slots.get("condition") or "", availability=slots.get("availability") or "", photo=photo)
    except ContentRejected as exc:
        return [await engine.ask_afresh(turn, SHARE, "title", exc.zh)]
    except SharingError as exc:
        raise CannotHandle(exc.zh) from exc
    turn.state.end()
    return [turn.say("share_new_done", post=post, kind_title="技能" if post.kind == SKILL else "物品")]


SHARE = engine.register(Flow(
    name=NEW, title="分享", slots=SLOTS, confirm_template="share_new_confirm", submit=submit,
    intents={"share_item"}, media=on_media,
))


@registry.on_intent("share_item")
async def share_item(turn: Turn) -> list[Reply]:
    """"我有台婴儿车想送人", "我会通下水道", or 邻里共享 2."""
    return await start_share(turn)


async def start_share(turn: Turn, **values: Any) -> list[Reply]:
    return await engine.start(turn, NEW, **values)
