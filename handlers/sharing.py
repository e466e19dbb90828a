"""共享社区 in chat: the 邻里共享 menu and where each sharing intent goes. The flows live
one per module, all on the flow engine (handlers/flow.py):

- handlers/sharing_borrow.py: "borrow" (find and borrow; search by meaning);
- handlers/sharing_post.py: "share_new" (share an item or skill);
- handlers/sharing_help.py: "help_new" (ask for help) and "volunteer" (看看谁需要帮忙);
- handlers/sharing_loans.py: "share_mine" and "help_mine" (accept in words, relay messages,
  share a phone with consent).

"share_hub" is a menu, not a flow: a digit or the option's words pick; a thing named
("梯子") is searched; another confident intent leaves it (the router answers it).
"""
from __future__ import annotations

import re
from typing import Awaitable, Callable

from handlers.messages import Button, Reply
from handlers import words
from handlers.base import FALLBACK, MENU_SELECT, Turn, registry
from handlers.flow_choices import Choice, match_choices
from handlers.sharing_borrow import query_of, start_borrow
from handlers.sharing_common import item_entity, leaves
from handlers.sharing_help import start_help, start_volunteer
from handlers.sharing_loans import start_help_mine, start_mine
from handlers.sharing_post import start_share
from services.share_search import search_words

HUB = "share_hub"
# 邻里共享 owns main-menu 5 and the WeChat menu key (idempotent with handlers/smalltalk.py).
registry.add_menu_item("5", "邻里共享", "borrow_item", "借梯子、分享闲置、请邻居搭把手", wechat_key="MENU_SHARE")
registry.add_title("share_item", "分享物品和技能")
registry.add_title("request_help", "找邻居帮忙")
HUB_CHOICES = [
    Choice("borrow", "找东西借（梯子、电钻……）", ("找东西借", "借东西", "找东西")),
    Choice("share", "分享物品或技能", ("分享", "分享东西", "分享技能", "我要分享")),
    Choice("help", "请邻居帮忙（接孩子、陪老人、买菜）", ("请邻居帮忙", "求助", "找人帮忙")),
    Choice("volunteer", "看看谁需要帮忙", ("谁需要帮忙", "我想帮忙", "帮别人", "当志愿者")),
    Choice("mine", "我的共享和借用", ("我的共享", "我的借用", "借用记录")),
    Choice("help_mine", "我的求助", ("我的求助", "求助记录")),
]
# Words that mean "the sharing menu" rather than a thing to find.
_GENERIC = re.compile(r"^(?:邻里)?共享(?:社区)?$|^借东西$|^借$|^分享$|^我要借东西$|^想借东西$|^找东西$")


async def _ask_query(turn: Turn) -> list[Reply]:
    return await start_borrow(turn)


async def _share(turn: Turn) -> list[Reply]:
    return await start_share(turn)


async def _help(turn: Turn) -> list[Reply]:
    return await start_help(turn)


STARTERS: dict[str, Callable[[Turn], Awaitable[list[Reply]]]] = {
    "borrow": _ask_query, "share": _share, "help": _help, "volunteer": start_volunteer,
    "mine": start_mine, "help_mine": start_help_mine,
}


def hub(turn: Turn, note: str | None = None) -> Reply:
    turn.state.start(HUB, "menu")
    options = [(str(n), c.title) for n, c in enumerate(HUB_CHOICES, start=1)]
    return turn.say("share_hub", options=options, note=note,
                    buttons=[Button(f"{key} {label}", key) for key, label in options])


@registry.on_intent("borrow_item")
async def borrow_item(turn: Turn) -> list[Reply]:
    """Main-menu 5, "谁家有梯子", "我想借个电钻"."""
    if turn.intent == MENU_SELECT or turn.text.isdigit() or _GENERIC.match(words.plain(turn.text)):
        return [hub(turn)]
    wanted = item_entity(turn) or " ".join(search_words(turn.text))
    if not wanted:
        return [hub(turn)]
    turn.state.slots = {}
    return await start_borrow(turn, query=wanted[:20])


@registry.on_flow(HUB)
async def hub_flow(turn: Turn) -> list[Reply] | None:
    number = words.number_of(turn.text)
    if number is not None:
        if not 1 <= number <= len(HUB_CHOICES):
            return [hub(turn, note=f"没有“{turn.text}”这个选项。")]
        picked = HUB_CHOICES[number - 1]
    elif turn.intent == MENU_SELECT:
        return [hub(turn, note=f"没有“{turn.text}”这个选项。")]
    else:
        if leaves(turn, {"borrow_item"}, 0.8) or not turn.has_words or words.kind_of(turn.text) is not None:
            return None
        matched = match_choices(turn.text, HUB_CHOICES)
        if len(matched) != 1:
            if turn.intent not in (FALLBACK, None, "borrow_item", "out_of_scope") and turn.confidence >= 0.8:
                return None
            wanted = query_of(turn, turn.text)  # "梯子": a thing to find
            if not wanted:
                return None
            turn.state.slots = {}
            return await start_borrow(turn, query=wanted)
        picked = matched[0]
    turn.state.end()
    return await STARTERS[picked.value](turn)
