"""Greeting, help and the main menu, thanks, goodbye, out-of-scope and fallback."""
from __future__ import annotations

from dataclasses import replace

from handlers.messages import Button, Reply
from handlers.base import FALLBACK, Turn, registry

# Each capability registers its own menu digit and WeChat menu key (registry.add_menu_item in
# its module). 邻里共享 is registered here until handlers/sharing*.py registers it itself
# (add_menu_item is idempotent for the same digit and intent).
registry.add_menu_item("5", "邻里共享", "borrow_item", "借梯子、分享闲置、请邻居搭把手", wechat_key="MENU_SHARE")
registry.add_wechat_key("MENU_HELP", "help")
for intent, title in [
    ("human_handoff", "找人工"),
    ("cancel_booking", "取消预约"),
    ("share_item", "分享物品和技能"),
    ("request_help", "找邻居帮忙"),
    ("redeem_points", "积分兑换"),
]:
    registry.add_title(intent, title)


def main_menu(turn: Turn, intro: str) -> Reply:
    items = registry.menu
    if turn.state.elder_mode:  # in elder mode, 8 switches it off again
        items = [replace(i, title="退出长者模式") if i.intent == "elder_mode" else i for i in items]
    buttons = [Button(f"{item.key} {item.title}", item.key) for item in items]
    buttons.append(Button("9 找人工", "9"))
    return turn.say(intro, items=items, buttons=buttons)


@registry.on_intent("greet")
async def greet(turn: Turn) -> list[Reply]:
    return [main_menu(turn, "greet")]


@registry.on_intent("help")
async def help_menu(turn: Turn) -> list[Reply]:
    turn.state.end()
    return [main_menu(turn, "main_menu")]


@registry.on_intent("thank")
async def thank(turn: Turn) -> list[Reply]:
    return [turn.say("thank")]


@registry.on_intent("goodbye")
async def goodbye(turn: Turn) -> list[Reply]:
    turn.state.end()
    return [turn.say("goodbye")]


@registry.on_intent("cancel")
async def cancel(turn: Turn) -> list[Reply]:
    had_flow = turn.ended_flow is not None or turn.state.flow is not None
    turn.state.end()
    return [turn.say("cancelled", had_flow=had_flow)]


@registry.on_intent("affirm", "deny")
async def nothing_to_confirm(turn: Turn) -> list[Reply]:
    return [main_menu(turn, "nothing_pending")]


@registry.on_intent("out_of_scope")
async def out_of_scope(turn: Turn) -> list[Reply]:
    return [main_menu(turn, "out_of_scope")]


@registry.on_intent(FALLBACK)
async def fallback(turn: Turn) -> list[Reply]:
    if not turn.has_words:
        return [turn.say("no_words")]
    if turn.state.misses < 2:
        from handlers.clarify import clarify

        asked = await clarify(turn)  # the two most likely capabilities, as numbered choices
        if asked is not None:
            return asked
    return [main_menu(turn, "fallback") if turn.state.misses < 2 else turn.say("fallback_again", misses=turn.state.misses)]
