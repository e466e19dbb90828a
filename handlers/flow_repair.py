"""Conversation repair of the dialogue engine (handlers/flow.py): a correction in free words
(不对，地点是X / 改成X / 那X呢) at any step, the read-back's answer (1 submit, 2 / 不对 change),
"which item to change" and "which of the two did you mean".

`Repair` is composed into the engine (`Engine.repair`) and asks through it; the engine's turn
loop routes the turn here by its step. Cancel, skip, back, repeat, handoff, chitchat, two misses,
digression and resume stay in the turn loop.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from handlers import words
from handlers.base import MENU_SELECT, Turn
from handlers.flow_choices import Choice, match_choices
from handlers.flow_spec import CANCEL_FLOW, CLARIFY, CONFIRM, FIX, MISSES_KEY, CannotHandle, Flow, Rejected, Slot, call
from handlers.messages import Button, Reply

if TYPE_CHECKING:
    from handlers.flow import Engine


class Repair:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    async def ask_clarify(self, turn: Turn, flow: Flow, slot: Slot, matched: list[Choice]) -> list[Reply]:
        options = matched[:2]
        turn.state.slots["_clarify"] = {"slot": slot.name, "back": turn.state.step,
                                        "options": [[c.title, c.value] for c in options]}
        turn.state.step = CLARIFY
        return [turn.say("flow_clarify", options=[c.title for c in options],
                         buttons=[Button(f"{n} {c.title}", str(n)) for n, c in enumerate(options, start=1)])]

    async def on_clarify(self, turn: Turn, flow: Flow) -> list[Reply] | None:
        pending = turn.state.slots.get("_clarify") or {}
        options = [Choice(value, title) for title, value in pending.get("options", [])]
        number = words.number_of(turn.text)
        picked = options[number - 1] if number is not None and 0 < number <= len(options) else None
        if picked is None:
            matched = match_choices(turn.text, options)
            picked = matched[0] if len(matched) == 1 else None
        turn.state.step = pending.get("back")
        if picked is None:
            turn.state.slots.pop("_clarify", None)
            return await self.engine.on_slot(turn, flow, flow.slot(pending.get("slot")))
        turn.state.slots.pop("_clarify", None)
        return await self.engine.take(turn, flow, flow.slot(pending["slot"]), picked.value)

    async def on_correction(self, turn: Turn, flow: Flow, step: str) -> list[Reply] | None:
        """不对 / 说错了 / 改成 / 应该是: change the slot meant, then go on (or read back again)."""
        fix, follow = None, False
        if turn.intent != MENU_SELECT:
            fix = words.correction(turn.text)
            if fix is None:
                fix, follow = words.follow_up(turn.text), True
        if fix is None:
            return None
        if fix.bare:
            if step == CONFIRM:
                return [await self.engine.ask_fix(turn, flow)]
            if step in (FIX, CLARIFY):
                return None
            return [await self.engine.ask(turn, flow, await self.engine.previous(turn, flow, step), again=True)]
        needed = await self.engine.needed(turn, flow)
        target = None
        if fix.slot_word:
            target = next((s for s in needed if fix.slot_word in s.words or fix.slot_word == s.label), None)
        value = None
        if target is None:  # the slot whose value the message now carries differently
            for slot in needed:
                found = await call(slot.extract, turn)
                if found is not None and slot.name in self.engine.done(turn) and found != turn.state.slots.get(slot.name):
                    target, value = slot, found
                    break
        if target is None and fix.value_text:
            target = await self._slot_for_words(turn, needed, fix.value_text)
        if follow and target is None:
            return None  # "那X呢" that fits no slot: an answer like any other
        if target is None and step not in (CONFIRM, FIX):
            answered = [n for n in self.engine.done(turn) if n != step]
            target = flow.slot(answered[-1]) if answered else None
        if target is None:
            turn.state.slots["_pending"] = fix.value_text
            return [await self.engine.ask_fix(turn, flow, note="您要改哪一项？")]
        if value is None:
            value = await self._value_from(turn, target, fix.value_text)
        if value is None:
            return [await self.engine.ask(turn, flow, target.name, again=True)]
        self.engine.set_value(turn, target, value)
        turn.state.slots.pop(MISSES_KEY, None)
        note = f"好的，{target.label}改为：{await self.engine.shown(turn, target, value)}。"
        return await self.engine.proceed(turn, flow, note=note)

    async def _slot_for_words(self, turn: Turn, needed: list[Slot], text: str) -> Slot | None:
        """The one slot whose choices or `looks_like` the corrected words fit, if exactly one."""
        fitting = []
        for slot in needed:
            choices = await call(slot.choices, turn) or []
            if (choices and len(match_choices(text, choices)) == 1) or (slot.looks_like and slot.looks_like(text)):
                fitting.append(slot)
        return fitting[0] if len(fitting) == 1 else None

    async def _value_from(self, turn: Turn, slot: Slot, text: str) -> Any:
        """The slot's value in the corrected words (a choice, a free answer or an entity)."""
        if not text:
            return None
        if slot.parse_first and slot.parse is not None:
            try:
                value = await call(slot.parse, turn, text)
            except Rejected:
                value = None
            if value is not None:
                return value
        choices = await call(slot.choices, turn) or []
        matched = match_choices(text, choices) if choices else []
        if len(matched) == 1:
            return matched[0].value
        try:
            value = await call(slot.parse, turn, text) if slot.parse else None
        except Rejected:
            return None
        return value if value is not None else await call(slot.extract, turn)

    async def on_confirm(self, turn: Turn, flow: Flow) -> list[Reply] | None:
        answer = words.yes_no(turn.text)
        if answer is None and turn.intent == "affirm" and not self.engine.unsure(turn) and len(words.plain(turn.text)) <= 6:
            answer = True
        if answer is True:
            try:
                return await flow.submit(turn)
            except CannotHandle as exc:
                return [await self.engine.read_back(turn, flow, note=f"没能提交：{exc}")]
        if answer is False or words.kind_of(turn.text) == words.BACK:
            if flow.on_no == CANCEL_FLOW and words.number_of(turn.text) == 2:
                turn.state.end()
                return [turn.say(flow.cancel_template, title=flow.title)]
            if flow.on_no is not None and words.number_of(turn.text) == 2:
                return [await self.engine.ask(turn, flow, flow.on_no, again=True)]
            return [await self.engine.ask_fix(turn, flow)]
        target = await self._named_slot(turn, flow)
        if target is not None:  # "修改地点"
            return [await self.engine.ask(turn, flow, target.name, again=True)]
        return await self.engine.not_understood(turn, flow, note="请回复 1 确认提交，回复 2 修改。")

    async def _named_slot(self, turn: Turn, flow: Flow) -> Slot | None:
        said = words.plain(turn.text)
        if len(said) > 8 or not said:
            return None
        for slot in await self.engine.needed(turn, flow):
            if any(word in said for word in (slot.label, *slot.words)):
                return slot
        return None

    async def on_fix(self, turn: Turn, flow: Flow) -> list[Reply] | None:
        needed = await self.engine.needed(turn, flow)
        number = words.number_of(turn.text)
        target = needed[number - 1] if number is not None and 0 < number <= len(needed) else None
        if target is None:
            target = await self._named_slot(turn, flow)
        if target is None:
            if words.yes_no(turn.text) is True:  # "没问题" after all: back to the read-back
                return [await self.engine.read_back(turn, flow)]
            return await self.engine.not_understood(turn, flow, note="请回复要修改的那一项的数字。")
        pending = turn.state.slots.pop("_pending", None)
        if pending:
            value = await self._value_from(turn, target, pending)
            if value is not None:
                self.engine.set_value(turn, target, value)
                return await self.engine.proceed(turn, flow, note=f"好的，{target.label}改为：{await self.engine.shown(turn, target, value)}。")
        return [await self.engine.ask(turn, flow, target.name, again=True)]
