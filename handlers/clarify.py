"""Unsure messages (Rasa's two-stage fallback) and what the router accepts at face value.

- An `nlu_fallback` (or a message demoted to it by `gate`) is answered with the two most likely
  capabilities from the NLU's intent_ranking as numbered choices; picking one runs that
  capability with the original message. Never an action on a guess.
- `gate`: smalltalk intents (greet/goodbye/thank/affirm/deny) count only for short messages or
  clear words (a 20-character complaint is never answered 再见); intents whose answer can be a
  dead end ("您现在没有可以取消的预约") count only when the model is sure.
"""
from __future__ import annotations

import re

from handlers.messages import Button, Reply
from handlers import words
from handlers.base import FALLBACK, MENU_SELECT, Turn, registry

FLOW = "clarify"
SMALLTALK = {"greet", "goodbye", "thank", "affirm", "deny"}
SHORT = 8
CLEAR_SMALLTALK = re.compile(r"^(?:你好|您好|早上好|晚上好|下午好|谢谢|感谢|多谢|再见|拜拜|好的|对的|是的|不是|不用|不对)")
DEAD_END = {"cancel_booking", "my_bookings", "report_status", "check_points", "redeem_points"}
SURE = 0.85
# Not offered as a capability in a clarification.
NOT_CAPABILITIES = SMALLTALK | {FALLBACK, "out_of_scope", "cancel", "help", "human_handoff", "elder_mode", MENU_SELECT}


def gate(turn: Turn) -> None:
    """Demote an intent the message does not clearly carry to nlu_fallback."""
    said = words.plain(turn.text)
    if turn.intent in SMALLTALK and len(said) > SHORT and not (len(said) <= 12 and CLEAR_SMALLTALK.match(said)):
        turn.intent = FALLBACK
    elif turn.intent in DEAD_END and turn.confidence < SURE and not registry.is_sure(turn):
        turn.intent = FALLBACK


def candidates(turn: Turn) -> list[str]:
    """The two most likely capabilities of the ranking, best first."""
    found: list[str] = []
    for entry in turn.ranking:
        name = entry.get("name")
        if name and name not in NOT_CAPABILITIES and name in registry.titles and name in registry.intents:
            if name not in found:
                found.append(name)
    return found[:2]


async def clarify(turn: Turn) -> list[Reply] | None:
    """Ask which of the two likely capabilities the resident means, or None with no candidates."""
    options = candidates(turn)
    if not options:
        return None
    turn.state.start(FLOW, "pick", options=options, text=turn.text, entities=turn.entities)
    titles = [registry.titles[name] for name in options]
    buttons = [Button(f"{n} {title}", str(n)) for n, title in enumerate(titles, start=1)]
    return [turn.say("clarify", titles=titles, buttons=buttons)]


@registry.on_flow(FLOW)
async def clarify_flow(turn: Turn) -> list[Reply] | None:
    slots = turn.state.slots
    options: list[str] = slots.get("options") or []
    number = words.number_of(turn.text)
    picked = options[number - 1] if number is not None and 0 < number <= len(options) else None
    if picked is None and turn.intent != MENU_SELECT:
        said = words.plain(turn.text)
        named = [name for name in options if words.plain(registry.titles[name]) in said]
        picked = named[0] if len(named) == 1 else None
    if picked is None:
        turn.state.end()
        return None  # another message: routed as usual
    original_text, original_entities = slots.get("text") or turn.text, slots.get("entities") or []
    turn.state.end()
    turn.intent, turn.confidence, turn.text, turn.entities = picked, 1.0, original_text, original_entities
    return await registry.intents[picked](turn)
