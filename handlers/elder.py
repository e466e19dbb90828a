"""Elder mode (长者模式, following the 适老化 norms) and the helpers guided flows share.

- On by the intent ("长者模式", "字大一点"), the menu key 8 (WeChat MENU_ELDER) or the
  profile (age >= 60 when known, on first contact); off on request ("关闭长者模式", or 8
  again, shown as "8 退出长者模式"). The choice is remembered per user in Redis, past the
  dialogue state's expiry; a choice the user made is never overridden by the profile.
- In elder mode every reply ends with "0 返回主菜单" and "9 找人工" (added here when a
  capability's reply lacks them), one question a turn, short lines.
- Helpers for flows not yet on the engine (handlers/flow.py): `choice_number` and `yes_no`
  read the product vocabulary (handlers/words.py), `reprompt` (after two misunderstood answers
  in a row, offer 9 找人工). Guided flows on the engine (报事) get paged menus (<= 9 lines a
  screen, no gaps), 1 用登记的地址 / 2 跳过 and numbered common descriptions from it.
"""
from __future__ import annotations

import re

from handlers.messages import Reply
from handlers import words
from handlers.base import MENU_SELECT, Turn, registry
from handlers.replies import render
from handlers.smalltalk import main_menu

registry.add_menu_item("8", "长者模式", "elder_mode", "字少一点、一步一问，按数字就能办", wechat_key="MENU_ELDER")
ELDER_AGE = 60
HOME, HUMAN = "0 返回主菜单", "9 找人工"

_MODE = r"(?:长者|老人|老年|适老|关怀|大字|简洁)(?:模式|版)"
_OFF = re.compile(r"关闭|关掉|关了|退出|取消|不用|不要|不需要|恢复|普通模式|正常模式|标准模式")
_MODE_TEXT = re.compile(rf"^(?:请|帮我|给我)?(?:打开|开启|开|切换到|换成|用|关闭|关掉|退出|取消|不用|不要)?{_MODE}(?:吧|了)?$")
_HANDOFF_TEXT = re.compile(r"^(?:我要|我想|请|帮我)?(?:找|转|接|要)?(?:人工|真人|客服|人工客服|人工服务|工作人员)(?:服务|客服)?(?:吧|啊)?$")
def plain(text: str) -> str:
    return words.plain(text)


def choice_number(text: str) -> int | None:
    """A numbered choice in typed or spoken form: "2", "二", "第二个", "选2" (handlers.words)."""
    return words.number_of(text)


def yes_no(turn: Turn, yes_key: str | None = "1", no_key: str | None = "2") -> bool | None:
    """True for a yes (1, 对, 好滴, affirm), False for a no (2, 不对, deny), else None."""
    answer = words.yes_no(turn.text, int(yes_key) if yes_key else None, int(no_key) if no_key else None)
    if answer is not None or words.number_of(turn.text) is not None:
        return answer
    if turn.intent == "deny" and turn.confidence >= 0.6 and len(plain(turn.text)) <= 8:
        return False
    if turn.intent == "affirm" and turn.confidence >= 0.6 and len(plain(turn.text)) <= 8:
        return True
    return None


def reprompt(turn: Turn, template: str, **context) -> list[Reply]:
    """Ask the same question again; from the second miss in a row, offer a person."""
    misses = int(turn.state.slots.get("_misses", 0)) + 1
    turn.state.slots["_misses"] = misses
    return [turn.say(template, offer_human=misses >= 2, **context)]


def understood(turn: Turn) -> None:
    turn.state.slots.pop("_misses", None)


def ends_with_footer(text: str) -> bool:
    return HOME in text and HUMAN in text


# -- mode on / off ----------------------------------------------------------------------

async def _remember(turn: Turn, on: bool) -> None:
    if turn.services.residents is not None:
        await turn.services.residents.choose_elder_mode(turn.message.user_key, on)


@registry.on_intent("elder_mode")
async def elder_mode(turn: Turn) -> list[Reply]:
    from_menu = turn.text == "8"  # the main menu shows "8 退出长者模式" in elder mode
    wants_off = bool(_OFF.search(turn.text)) or (from_menu and turn.state.elder_mode)
    if wants_off:
        turn.state.elder_mode = False
        await _remember(turn, False)
        return [turn.say("elder_off")]
    turn.state.elder_mode = True
    await _remember(turn, True)
    return [main_menu(turn, "elder_on")]


@registry.before_turn
async def elder_before(turn: Turn) -> None:
    """Phrases that must work whatever the model says, and elder mode from the profile."""
    if turn.intent != MENU_SELECT and len(turn.text) <= 12:
        text = plain(turn.text)
        if _MODE_TEXT.match(text):
            turn.intent, turn.confidence = "elder_mode", 1.0
        elif _HANDOFF_TEXT.match(text):
            turn.intent, turn.confidence = "human_handoff", 1.0
    residents = turn.services.residents
    if turn.state.elder_mode or residents is None:
        return
    pref = await residents.elder_preference(turn.message.user_key)
    if pref == "on":
        turn.state.elder_mode = True
        return
    if pref is not None:
        return
    resident = await residents.find(turn.message.user_key)
    age = resident.age() if resident is not None else None
    if age is not None and age >= ELDER_AGE and turn.intent != "elder_mode":
        turn.state.elder_mode = True
        turn.message.metadata["elder_auto"] = True
        await residents.elder_mode_from_profile(turn.message.user_key, True)
    else:
        await residents.elder_mode_from_profile(turn.message.user_key, False)


@registry.after_turn
async def elder_after(turn: Turn, replies: list[Reply]) -> list[Reply]:
    """Elder mode: every answer ends with the two ways out; say when the profile turned it on."""
    if not turn.state.elder_mode or not replies:
        return replies
    if turn.message.metadata.get("elder_auto"):
        replies[0].text = f"{render('elder_auto')}\n{replies[0].text}"
    last = replies[-1]
    missing = [line for line in (HOME, HUMAN) if line not in last.text]
    if missing:
        last.text = f"{last.text}\n{'  '.join(missing)}"
    return replies

