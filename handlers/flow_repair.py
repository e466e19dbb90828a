"""Conversation repair of the dialogue engine: corrections in free words, "which item to
change", the answer to the read-back and "which of the two did you mean".

Repair cases, for every flow; the engine (handlers/flow.py) routes a turn here:
- correction at any step or at the read-back in free words (不对，地点是X / 地址错了应该是X / 改成X):
  the named slot (or the one whose `extract` finds a new value, or at a step the slot answered
  last) changes and the flow goes on (at the read-back: read back again); a bare 不对 / 2 at the
  read-back asks which item, as numbered choices;
- cancel (取消 / 算了 / the cancel intent): ends the flow unsaved;
- skip (跳过) on skippable slots; back (上一步) to the previous question;
- clarification: an answer that fits two choices equally asks which of the two;
- digression and resume: a confident other intent is answered and the flow offered back
  (刚才的报事还没提交，继续吗？); an unsure message (nlu_fallback, low confidence) never leaves;
- chitchat (greet / thank / goodbye) inside a flow: a short answer, then the question again;
- cannot-handle: submit raising `CannotHandle` says so and stays at the read-back;
- human handoff: 找人工 / 9 pauses the flow for the handoff; two misses in a row offer 找人工;
- repeat (再说一遍): the question again, not counted as a miss;
- context follow-up (那X呢 / X的呢): read like a correction without a marker, so "那洗衣皂呢"
  at the read-back of 大米 changes the item, "后天的呢" at the time question changes the day.

A flow's own rules run after every answer (`Flow.check`: eligibility, consistency of
dependent slots); `Flow.on_no` names the slot "2" at the read-back goes back to.

The engine keeps the turn loop and the asking; `Repair` holds the engine it belongs to and asks
through it. What is not here (cancel, skip, back, repeat, handoff, digression and resume,
chitchat, two misses) is in the engine's turn loop.
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
