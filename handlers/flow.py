"""The dialogue engine every guided flow runs on: ordered slots, numbered choices, a
read-back, submit, and the conversation-repair cases of Rasa CALM's patterns.

What a flow declares (Slot, Flow, the state it keeps) is in handlers/flow_spec.py, numbered
choices in handlers/flow_choices.py. Here: registering flows, asking, the turn loop,
digression and resume.

Repair cases, all handled here for every flow (corrections, the answer to the read-back and
to "which item", and clarification through `Repair`, handlers/flow_repair.py):
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
"""
from __future__ import annotations

from typing import Any

from handlers import words
from handlers.base import FALLBACK, MENU_SELECT, Turn, registry
from handlers.flow_choices import MORE_KEY, match_choices, screen_of
from handlers.flow_repair import Repair
from handlers.flow_spec import CLARIFY, CONFIRM, DONE_KEY, FIX, MISSES_KEY, PAGE_KEY, Flow, Rejected, Slot, call
from handlers.messages import Button, Reply

RESUME_FLOW = "resume"
# Other intents at or above this confidence are a digression (answered, then the flow offered
# back): a wrong one costs one turn, since the flow is offered back at once.
DIGRESSION_CONFIDENCE = 0.6
CHITCHAT = {"greet", "thank", "goodbye"}
_SOFT_SKIP = {"不用", "不用了", "没有", "不要", "没", "无", "没有了", "不需要"}


class Engine:
    def __init__(self) -> None:
        self.flows: dict[str, Flow] = {}
        self.repair = Repair(self)

    def register(self, flow: Flow) -> Flow:
        self.flows[flow.name] = flow
        registry.engine_flows.add(flow.name)

        async def handle(turn: Turn) -> list[Reply] | None:
            return await self.continue_flow(turn, flow)

        registry.on_flow(flow.name)(handle)
        return flow

    # -- state helpers ------------------------------------------------------------------

    @staticmethod
    def done(turn: Turn) -> list[str]:
        return turn.state.slots.setdefault(DONE_KEY, [])

    def set_value(self, turn: Turn, slot: Slot, value: Any) -> None:
        turn.state.slots[slot.name] = value
        if slot.name not in self.done(turn):
            self.done(turn).append(slot.name)
        else:  # the most recently answered slot goes last (a correction without a name targets it)
            self.done(turn).remove(slot.name)
            self.done(turn).append(slot.name)

    async def needed(self, turn: Turn, flow: Flow) -> list[Slot]:
        result = []
        for slot in flow.slots:
            if slot.needed is None or await call(slot.needed, turn):
                result.append(slot)
        return result

    async def next_step(self, turn: Turn, flow: Flow) -> str:
        for slot in await self.needed(turn, flow):
            if slot.name not in self.done(turn):
                return slot.name
        return CONFIRM

    async def fill_from_message(self, turn: Turn, flow: Flow, overwrite: bool = False) -> list[Slot]:
        """Slots this message carries a value for (entities etc.); unanswered ones are filled."""
        filled = []
        for slot in await self.needed(turn, flow):
            if slot.name in self.done(turn) and not overwrite:
                continue
            value = await call(slot.extract, turn)
            if value is not None:
                self.set_value(turn, slot, value)
                filled.append(slot)
        return filled

    # -- asking ---------------------------------------------------------------------------

    async def start(self, turn: Turn, name: str, **values: Any) -> list[Reply]:
        """Start flow `name` afresh (the slots of before are dropped) with known values; what
        the first message says is taken too."""
        flow = self.flows[name]
        turn.state.start(name, None)
        for key, value in values.items():
            self.set_value(turn, flow.slot(key), value)
        if turn.message.kind in ("text", "voice"):
            await self.fill_from_message(turn, flow)
        return await self.proceed(turn, flow)

    async def ask(self, turn: Turn, flow: Flow, step: str, note: str | None = None, again: bool = False,
                  offer_human: bool = False) -> Reply:
        turn.state.step = step
        if step == CONFIRM:
            return await self.read_back(turn, flow, note, offer_human)
        if step == FIX:
            return await self.ask_fix(turn, flow, note, offer_human)
        slot = flow.slot(step)
        slots = turn.state.slots
        context: dict[str, Any] = dict(await call(slot.context, turn) or {})
        shown, more = [], None
        buttons: list[Button] = []
        choices = await call(slot.choices, turn) or []
        if choices:
            screen, more = screen_of(choices, int(slots.get(PAGE_KEY, 0)))
            shown = [(n, c.title) for n, c in screen]
            buttons = [Button(f"{n} {title}", str(n)) for n, title in shown]
            if more:
                buttons.append(Button(f"{MORE_KEY} {more}", str(MORE_KEY)))
        current = None
        if slot.name in self.done(turn):
            current = await self.shown(turn, slot, slots.get(slot.name))
        return turn.say(slot.template, buttons=buttons, note=note, again=again, current=current, slots=slots,
                        choices=shown, more=more, more_key=MORE_KEY, offer_human=offer_human,
                        wechat=turn.message.channel == "wechat", **context)

    async def ask_afresh(self, turn: Turn, flow: Flow, step: str, note: str | None) -> Reply:
        """Forget the answer to `step` (refused after it was taken) and ask it again, saying why."""
        self.done(turn).remove(step)
        turn.state.slots.pop(step, None)
        return await self.ask(turn, flow, step, note=note)

    async def proceed(self, turn: Turn, flow: Flow, note: str | None = None) -> list[Reply]:
        """After an answer: the flow's own rules first (`Flow.check`), then the next question."""
        if flow.check is not None:
            replies = await flow.check(turn)
            if replies is not None:
                return replies
        return [await self.ask(turn, flow, await self.next_step(turn, flow), note=note)]

    async def shown(self, turn: Turn, slot: Slot, value: Any) -> str:
        if slot.show is not None:
            return str(await call(slot.show, turn, value))
        return "未提供" if value in (None, "") else str(value)

    async def items(self, turn: Turn, flow: Flow) -> list[tuple[int, Slot, str]]:
        return [(n, slot, await self.shown(turn, slot, turn.state.slots.get(slot.name)))
                for n, slot in enumerate(await self.needed(turn, flow), start=1)]

    async def read_back(self, turn: Turn, flow: Flow, note: str | None = None, offer_human: bool = False) -> Reply:
        turn.state.step = CONFIRM
        items = [(n, slot.label, text) for n, slot, text in await self.items(turn, flow)]
        values = {slot.name: text for _, slot, text in await self.items(turn, flow)}
        yes, no = flow.confirm_buttons
        return turn.say(flow.confirm_template, buttons=[Button(f"1 {yes}", "1"), Button(f"2 {no}", "2")],
                        note=note, items=items, values=values, slots=turn.state.slots, offer_human=offer_human)

    async def ask_fix(self, turn: Turn, flow: Flow, note: str | None = None, offer_human: bool = False) -> Reply:
        turn.state.step = FIX
        items = [(n, slot.label, text) for n, slot, text in await self.items(turn, flow)]
        return turn.say("flow_fix", buttons=[Button(f"{n} {label}", str(n)) for n, label, _ in items],
                        note=note, items=items, offer_human=offer_human)

    async def reprompt(self, turn: Turn, flow: Flow, note: str | None = None) -> list[Reply]:
        """The same question again; from the second miss in a row, offer 找人工."""
        misses = int(turn.state.slots.get(MISSES_KEY, 0)) + 1
        turn.state.slots[MISSES_KEY] = misses
        return [await self.ask(turn, flow, turn.state.step or CONFIRM, note=note, offer_human=misses >= 2)]

    # -- one turn -------------------------------------------------------------------------

    async def continue_flow(self, turn: Turn, flow: Flow) -> list[Reply] | None:
        state = turn.state
        step = state.step or await self.next_step(turn, flow)
        state.step = step
        if turn.message.kind == "event":  # a WeChat menu click
            if turn.intent in flow.intents:
                return [await self.ask(turn, flow, step)]
            return self.digress(turn)
        if flow.media is not None and turn.message.kind in ("location", "image"):
            replies = await flow.media(turn)
            if replies is not None:
                return replies
        kind = words.kind_of(turn.text)
        short = len(words.plain(turn.text)) <= 8
        if kind == words.CANCEL or (turn.intent == "cancel" and turn.confidence >= DIGRESSION_CONFIDENCE and short):
            if not (kind == words.CANCEL and step != CONFIRM and await self._soft_skip(turn, flow, step)):
                state.end()
                return [turn.say(flow.cancel_template, title=flow.title)]
        if kind == words.HUMAN or turn.intent == "human_handoff":
            turn.intent = "human_handoff"
            return self.digress(turn)
        if kind == words.REPEAT:
            return [await self.ask(turn, flow, step)]
        if step == CLARIFY:
            return await self.repair.on_clarify(turn, flow)
        fixed = await self.repair.on_correction(turn, flow, step)
        if fixed is not None:
            return fixed
        if step == CONFIRM:
            return await self.repair.on_confirm(turn, flow)
        if step == FIX:
            return await self.repair.on_fix(turn, flow)
        return await self.on_slot(turn, flow, flow.slot(step))

    async def _soft_skip(self, turn: Turn, flow: Flow, step: str) -> bool:
        """"不用了" at a skippable question means "none", not "stop everything"."""
        if step in (CONFIRM, FIX, CLARIFY):
            return False
        return flow.slot(step).skippable and words.plain(turn.text) in _SOFT_SKIP

    def digress(self, turn: Turn) -> None:
        """Put the flow aside for another capability; it is offered back afterwards."""
        state = turn.state
        state.paused = {"flow": state.flow, "step": state.step, "slots": state.slots}
        state.end()
        return None

    def unsure(self, turn: Turn) -> bool:
        return turn.intent in (FALLBACK, None) or turn.confidence < DIGRESSION_CONFIDENCE

    def _other_intent(self, turn: Turn, flow: Flow) -> bool:
        """A confident intent of another capability (a digression)."""
        if self.unsure(turn) or turn.intent in flow.intents or turn.intent == MENU_SELECT:
            return False
        if turn.intent in CHITCHAT | {"affirm", "deny", "cancel", "out_of_scope"}:
            return False
        return turn.intent in registry.intents

    async def not_understood(self, turn: Turn, flow: Flow, note: str | None = None) -> list[Reply] | None:
        if self._other_intent(turn, flow):
            return self.digress(turn)
        if turn.intent in CHITCHAT and not self.unsure(turn) and len(words.plain(turn.text)) <= 8:
            return [await self.ask(turn, flow, turn.state.step, note=_chitchat_note(turn.intent))]
        return await self.reprompt(turn, flow, note=note or "没太听明白。")

    async def _understood(self, turn: Turn, flow: Flow, note: str | None = None) -> list[Reply]:
        turn.state.slots.pop(MISSES_KEY, None)
        turn.state.slots.pop(PAGE_KEY, None)
        return await self.proceed(turn, flow, note=note)

    async def on_slot(self, turn: Turn, flow: Flow, slot: Slot) -> list[Reply] | None:
        slots = turn.state.slots
        kind = words.kind_of(turn.text)
        if kind == words.BACK:
            return [await self.ask(turn, flow, await self.previous(turn, flow, slot.name), again=True)]
        if kind == words.SKIP or (slot.skippable and words.plain(turn.text) in _SOFT_SKIP):
            if not slot.skippable:
                return [await self.ask(turn, flow, slot.name, note="这一项不能跳过。")]
            self.set_value(turn, slot, slot.skip_value)
            return await self._understood(turn, flow)
        choices = await call(slot.choices, turn) or []
        number = words.number_of(turn.text)
        if choices and number is not None:
            screen, more = screen_of(choices, int(slots.get(PAGE_KEY, 0)))
            if more and number == MORE_KEY:
                slots[PAGE_KEY] = int(slots.get(PAGE_KEY, 0)) + 1
                if more == "回到第一页":
                    slots[PAGE_KEY] = 0
                return [await self.ask(turn, flow, slot.name)]
            picked = dict(screen).get(number)
            if picked is None:
                return await self.reprompt(turn, flow, note=f"没有“{turn.text}”这个选项。")
            return await self.take(turn, flow, slot, picked.value)
        digits_answer = slot.digits and not choices  # a phone number or a count typed as digits
        if (number is not None or turn.intent == MENU_SELECT) and not digits_answer:  # no numbers offered
            return await self.reprompt(turn, flow, note=f"没有“{turn.text}”这个选项。")
        if slot.parse_first and slot.parse is not None:
            try:
                value = await call(slot.parse, turn, turn.text)
            except Rejected as exc:
                turn.state.slots.pop(MISSES_KEY, None)
                return [await self.ask(turn, flow, slot.name, note=str(exc) or None)]
            if value is not None:
                return await self.take(turn, flow, slot, value)
        if choices:
            matched = match_choices(turn.text, choices)
            if len(matched) == 1:
                return await self.take(turn, flow, slot, matched[0].value)
            if len(matched) > 1:
                return await self.repair.ask_clarify(turn, flow, slot, matched)
        try:
            value = await call(slot.parse, turn, turn.text) if slot.parse else None
        except Rejected as exc:
            return [await self.ask(turn, flow, slot.name, note=str(exc))]
        if value is None:
            value = await call(slot.extract, turn)
        if value is None:
            return await self.not_understood(turn, flow)
        return await self.take(turn, flow, slot, value)

    async def take(self, turn: Turn, flow: Flow, slot: Slot, value: Any) -> list[Reply]:
        self.set_value(turn, slot, value)
        if turn.intent != MENU_SELECT and turn.message.kind in ("text", "voice"):
            await self.fill_from_message(turn, flow)  # "5栋后门，灯一直闪": more than was asked
        if slot.after is not None:
            replies = await call(slot.after, turn, value)
            if replies is not None:
                turn.state.slots.pop(MISSES_KEY, None)
                return replies
        return await self._understood(turn, flow)

    async def previous(self, turn: Turn, flow: Flow, name: str) -> str:
        order = [s.name for s in await self.needed(turn, flow)]
        index = order.index(name) if name in order else len(order)
        return order[max(0, index - 1)]

    # -- digression and resume ------------------------------------------------------------

    async def after_turn(self, turn: Turn, replies: list[Reply]) -> list[Reply]:
        """When the digression is over (no flow running), offer the paused flow back."""
        state = turn.state
        if not state.paused or state.flow is not None:
            return replies
        flow = self.flows.get(state.paused.get("flow") or "")
        if flow is None:
            state.paused = None
            return replies
        state.start(RESUME_FLOW, "offer")
        replies.append(turn.say("flow_resume_offer", title=flow.title, again=False,
                                buttons=[Button("1 继续", "1"), Button("2 不用了", "2")]))
        return replies

    async def on_resume(self, turn: Turn) -> list[Reply] | None:
        state = turn.state
        paused = state.paused or {}
        flow = self.flows.get(paused.get("flow") or "")
        if flow is None:
            state.end()
            state.paused = None
            return None
        answer = words.yes_no(turn.text)
        if answer is None and words.kind_of(turn.text) == words.CANCEL:
            answer = False
        if answer is True:
            state.paused = None
            state.start(flow.name, paused.get("step"), **paused.get("slots", {}))
            return [await self.ask(turn, flow, state.step or await self.next_step(turn, flow))]
        if answer is False:
            state.paused = None
            state.end()
            return [turn.say("flow_dropped", title=flow.title)]
        if self._other_intent(turn, flow) or turn.intent in flow.intents:
            state.end()  # another request: answered, and the offer made again after it
            return None
        return [turn.say("flow_resume_offer", title=flow.title, again=True,
                         buttons=[Button("1 继续", "1"), Button("2 不用了", "2")])]


def _chitchat_note(intent: str | None) -> str:
    return {"greet": "您好！", "thank": "不客气！", "goodbye": "好的。"}.get(intent or "", "")


engine = Engine()
registry.on_flow(RESUME_FLOW)(engine.on_resume)
registry.after_turn(engine.after_turn)
