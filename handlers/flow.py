"""The dialogue engine every guided flow runs on: ordered slots, numbered choices, a
read-back, submit, and the conversation-repair cases of Rasa CALM's patterns.

API (stable; capabilities build on it)::

    from handlers.flow import Choice, Flow, Slot, engine

    REPORT = engine.register(Flow(
        name="report", title="报事",                 # title: "刚才的报事还没提交，继续吗？"
        intents={"report_problem"},                 # intents that are this flow, not a digression
        slots=[
            Slot("category", "类别", "report_ask_category", words=("类别", "类型"),
                 choices=category_choices,          # (turn) -> list[Choice]; paged, <= 9 a screen
                 extract=category_from_entities),   # (turn) -> value | None, run on EVERY message
            Slot("location", "地点", "report_ask_location", words=("地点", "地址", "位置"),
                 choices=location_choices, parse=parse_place, extract=place_entity, skippable=True),
            ...
        ],
        confirm_template="report_ask_confirm",      # read-back; gets `items` [(number, label, shown)]
        submit=submit_report,                       # async (turn) -> list[Reply]; ends the flow itself
        media=on_media,                             # optional async (turn) -> list[Reply] | None
    ))
    return await engine.start(turn, "report", category="drainage")   # from an intent handler

Slot fields: `name` (key in `state.slots`), `label` (read-back and "which item" list), `template`
(the question; it gets note, again, current, choices, more, offer_human, slots and `context(turn)`),
`words` (how a resident names the slot in a correction: 地址错了应该是…), `choices` (numbered
options: digits, Chinese numerals, the option's words and close paraphrases pick one), `parse`
((turn, text) -> value | None: a free answer; None = not understood), `extract` ((turn) -> value |
None: a value any message of the flow carries, e.g. an NLU entity; also the first message),
`skippable` / `skip_value` (跳过), `needed` ((turn) -> bool: ask at all), `show` ((turn, value) -> str:
the read-back text), `looks_like` ((text) -> bool: the words fit this slot; routes a correction that
names no slot), `after` ((turn, value) -> list[Reply] | None: runs once the slot is answered; replies
returned end the turn, e.g. a pick that acts at once or hands over to another flow). `parse` may
raise `Rejected(note)`: the answer was understood but is not accepted (the note says why). A `Choice` has `value`, `title` and `words` (other words that pick it); a
choice whose value is `Choice.FREE`-like callable result can be produced by `choices` per turn.
Callables may be sync or async.

State (Redis, `storage.dialogue_state`): `state.flow` = flow name, `state.step` = the slot being
asked, "confirm" (read-back), "fix" (which item to change) or "clarify"; values in
`state.slots[name]`, answered slot names in `state.slots["_done"]`. A digression keeps the flow in
`state.paused` until it is resumed or declined. Tests read exactly this.

Repair cases, all handled here for every flow:
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

import inspect
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any, Awaitable, Callable

from handlers.messages import Button, Reply
from handlers import words
from handlers.base import FALLBACK, MENU_SELECT, Turn, registry

CONFIRM, FIX, CLARIFY = "confirm", "fix", "clarify"
CANCEL_FLOW = "_cancel"  # Flow.on_no: "2" at the read-back ends the flow unsaved
RESUME_FLOW = "resume"
DONE_KEY, MISSES_KEY, PAGE_KEY = "_done", "_misses", "_page"
# Other intents at or above this confidence are a digression (answered, then the flow offered
# back): a wrong one costs one turn, since the flow is offered back at once.
DIGRESSION_CONFIDENCE = 0.6
CHITCHAT = {"greet", "thank", "goodbye"}
# A screen of numbered choices: 9 and 0 stay 找人工 / 主菜单, so 8 options, or 7 and "8 下一页".
SCREEN, PAGED_SCREEN, MORE_KEY = 8, 7, 8
_SOFT_SKIP = {"不用", "不用了", "没有", "不要", "没", "无", "没有了", "不需要"}


class CannotHandle(Exception):
    """Raised by a flow's submit when the request cannot be done; the message is shown."""


class Rejected(Exception):
    """Raised by a slot's parse: the answer is not accepted; the message is the note shown."""


@dataclass(frozen=True)
class Choice:
    value: Any
    title: str
    words: tuple[str, ...] = ()


@dataclass
class Slot:
    name: str
    label: str
    template: str
    words: tuple[str, ...] = ()
    choices: Callable[[Turn], Any] | None = None
    parse: Callable[[Turn, str], Any] | None = None
    extract: Callable[[Turn], Any] | None = None
    skippable: bool = False
    skip_value: Any = None
    needed: Callable[[Turn], Any] | None = None
    show: Callable[[Turn, Any], str] | None = None
    context: Callable[[Turn], Any] | None = None
    # (text) -> bool: the words look like a value of this slot (routes a correction that names
    # no slot, e.g. "不对，是华富路21号" -> the place).
    looks_like: Callable[[str], bool] | None = None
    # Read a free answer (`parse`) before matching the numbered choices: for slots whose
    # choices are re-ranked by what is said ("后天" narrows the times, it picks none).
    parse_first: bool = False
    # (turn, value) -> list[Reply] | None: runs after the slot is answered; replies end the turn.
    after: Callable[[Turn, Any], Any] | None = None
    # The answer is digits (a phone number): a menu digit goes to `parse`, not "没有这个选项".
    digits: bool = False


@dataclass
class Flow:
    name: str
    title: str
    slots: list[Slot]
    confirm_template: str
    submit: Callable[[Turn], Awaitable[list[Reply]]]
    intents: set[str] = field(default_factory=set)
    media: Callable[[Turn], Awaitable["list[Reply] | None"]] | None = None
    # The flow's own rules after every answer (eligibility, a service not offered ...):
    # replies to say instead of the next question (the check may end the flow), or None.
    check: Callable[[Turn], Awaitable["list[Reply] | None"]] | None = None
    # The slot asked again when the read-back is refused with 2 (e.g. "2 换个时间");
    # None: ask which item to change; CANCEL_FLOW: "2 取消". A bare 不对 always asks which item.
    on_no: str | None = None
    # Read-back buttons (number -> title); the template shows the same words.
    confirm_buttons: tuple[str, str] = ("确认提交", "返回修改")
    # What cancelling says (gets `title`).
    cancel_template: str = "flow_cancelled"

    def slot(self, name: str) -> Slot:
        return next(s for s in self.slots if s.name == name)


async def _call(func: Callable[..., Any] | None, *args: Any) -> Any:
    if func is None:
        return None
    result = func(*args)
    return await result if inspect.isawaitable(result) else result


# -- numbered choices ------------------------------------------------------------------


def screen_of(choices: list[Choice], page: int) -> tuple[list[tuple[int, Choice]], str | None]:
    """The choices shown on `page` with their numbers, and the title of key 8 when paged."""
    if len(choices) <= SCREEN:
        return list(enumerate(choices, start=1)), None
    pages = (len(choices) + PAGED_SCREEN - 1) // PAGED_SCREEN
    page %= pages
    shown = choices[page * PAGED_SCREEN:(page + 1) * PAGED_SCREEN]
    return list(enumerate(shown, start=1)), ("回到第一页" if page == pages - 1 else "下一页")


def _similarity(text: str, choice: Choice) -> float:
    best = 0.0
    for candidate in (choice.title, *choice.words):
        cand = words.plain(candidate)
        if not cand:
            continue
        if text == cand:
            return 1.0
        if len(cand) >= 2 and cand in text or len(text) >= 2 and text in cand:
            best = max(best, 0.9)
        else:
            best = max(best, SequenceMatcher(None, text, cand).ratio())
    return best


def match_choices(text: str, choices: list[Choice]) -> list[Choice]:
    """The choices the words pick: one, several equally good (ask which), or none."""
    said = words.plain(text)
    if not said:
        return []
    scored = [(_similarity(said, c), i) for i, c in enumerate(choices)]
    top = max((s for s, _ in scored), default=0.0)
    if top < 0.6:
        return []
    return [choices[i] for s, i in scored if s == top]


# -- the engine ------------------------------------------------------------------------


class Engine:
    def __init__(self) -> None:
        self.flows: dict[str, Flow] = {}

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
            if slot.needed is None or await _call(slot.needed, turn):
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
            value = await _call(slot.extract, turn)
            if value is not None:
                self.set_value(turn, slot, value)
                filled.append(slot)
        return filled

    # -- asking ---------------------------------------------------------------------------

    async def start(self, turn: Turn, name: str, **values: Any) -> list[Reply]:
        """Start flow `name` with known values; what the first message says is taken too."""
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
        context: dict[str, Any] = dict(await _call(slot.context, turn) or {})
        shown, more = [], None
        buttons: list[Button] = []
        choices = await _call(slot.choices, turn) or []
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

    async def proceed(self, turn: Turn, flow: Flow, note: str | None = None) -> list[Reply]:
        """After an answer: the flow's own rules first (`Flow.check`), then the next question."""
        if flow.check is not None:
            replies = await flow.check(turn)
            if replies is not None:
                return replies
        return [await self.ask(turn, flow, await self.next_step(turn, flow), note=note)]

    async def shown(self, turn: Turn, slot: Slot, value: Any) -> str:
        if slot.show is not None:
            return str(await _call(slot.show, turn, value))
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
            return await self._on_clarify(turn, flow)
        fixed = await self._on_correction(turn, flow, step)
        if fixed is not None:
            return fixed
        if step == CONFIRM:
            return await self._on_confirm(turn, flow)
        if step == FIX:
            return await self._on_fix(turn, flow)
        return await self._on_slot(turn, flow, flow.slot(step))

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

    def _unsure(self, turn: Turn) -> bool:
        return turn.intent in (FALLBACK, None) or turn.confidence < DIGRESSION_CONFIDENCE

    def _other_intent(self, turn: Turn, flow: Flow) -> bool:
        """A confident intent of another capability (a digression)."""
        if self._unsure(turn) or turn.intent in flow.intents or turn.intent == MENU_SELECT:
            return False
        if turn.intent in CHITCHAT | {"affirm", "deny", "cancel", "out_of_scope"}:
            return False
        return turn.intent in registry.intents

    async def _not_understood(self, turn: Turn, flow: Flow, note: str | None = None) -> list[Reply] | None:
        if self._other_intent(turn, flow):
            return self.digress(turn)
        if turn.intent in CHITCHAT and not self._unsure(turn) and len(words.plain(turn.text)) <= 8:
            return [await self.ask(turn, flow, turn.state.step, note=_chitchat_note(turn.intent))]
        return await self.reprompt(turn, flow, note=note or "没太听明白。")

    async def _understood(self, turn: Turn, flow: Flow, note: str | None = None) -> list[Reply]:
        turn.state.slots.pop(MISSES_KEY, None)
        turn.state.slots.pop(PAGE_KEY, None)
        return await self.proceed(turn, flow, note=note)

    async def _on_slot(self, turn: Turn, flow: Flow, slot: Slot) -> list[Reply] | None:
        slots = turn.state.slots
        kind = words.kind_of(turn.text)
        if kind == words.BACK:
            return [await self.ask(turn, flow, await self._previous(turn, flow, slot.name), again=True)]
        if kind == words.SKIP or (slot.skippable and words.plain(turn.text) in _SOFT_SKIP):
            if not slot.skippable:
                return [await self.ask(turn, flow, slot.name, note="这一项不能跳过。")]
            self.set_value(turn, slot, slot.skip_value)
            return await self._understood(turn, flow)
        choices = await _call(slot.choices, turn) or []
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
            return await self._take(turn, flow, slot, picked.value)
        digits_answer = slot.digits and not choices  # a phone number or a count typed as digits
        if (number is not None or turn.intent == MENU_SELECT) and not digits_answer:  # no numbers offered
            return await self.reprompt(turn, flow, note=f"没有“{turn.text}”这个选项。")
        if slot.parse_first and slot.parse is not None:
            try:
                value = await _call(slot.parse, turn, turn.text)
            except Rejected as exc:
                turn.state.slots.pop(MISSES_KEY, None)
                return [await self.ask(turn, flow, slot.name, note=str(exc) or None)]
            if value is not None:
                return await self._take(turn, flow, slot, value)
        if choices:
            matched = match_choices(turn.text, choices)
            if len(matched) == 1:
                return await self._take(turn, flow, slot, matched[0].value)
            if len(matched) > 1:
                return await self._ask_clarify(turn, flow, slot, matched)
        try:
            value = await _call(slot.parse, turn, turn.text) if slot.parse else None
        except Rejected as exc:
            return [await self.ask(turn, flow, slot.name, note=str(exc))]
        if value is None:
            value = await _call(slot.extract, turn)
        if value is None:
            return await self._not_understood(turn, flow)
        return await self._take(turn, flow, slot, value)

    async def _take(self, turn: Turn, flow: Flow, slot: Slot, value: Any) -> list[Reply]:
        self.set_value(turn, slot, value)
        if turn.intent != MENU_SELECT and turn.message.kind in ("text", "voice"):
            await self.fill_from_message(turn, flow)  # "5栋后门，灯一直闪": more than was asked
        if slot.after is not None:
            replies = await _call(slot.after, turn, value)
            if replies is not None:
                turn.state.slots.pop(MISSES_KEY, None)
                return replies
        return await self._understood(turn, flow)

    async def _previous(self, turn: Turn, flow: Flow, name: str) -> str:
        order = [s.name for s in await self.needed(turn, flow)]
        index = order.index(name) if name in order else len(order)
        return order[max(0, index - 1)]

    async def _ask_clarify(self, turn: Turn, flow: Flow, slot: Slot, matched: list[Choice]) -> list[Reply]:
        options = matched[:2]
        turn.state.slots["_clarify"] = {"slot": slot.name, "back": turn.state.step,
                                        "options": [[c.title, c.value] for c in options]}
        turn.state.step = CLARIFY
        return [turn.say("flow_clarify", options=[c.title for c in options],
                         buttons=[Button(f"{n} {c.title}", str(n)) for n, c in enumerate(options, start=1)])]

    async def _on_clarify(self, turn: Turn, flow: Flow) -> list[Reply] | None:
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
            return await self._on_slot(turn, flow, flow.slot(pending.get("slot")))
        turn.state.slots.pop("_clarify", None)
        return await self._take(turn, flow, flow.slot(pending["slot"]), picked.value)

    async def _on_correction(self, turn: Turn, flow: Flow, step: str) -> list[Reply] | None:
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
                return [await self.ask_fix(turn, flow)]
            if step in (FIX, CLARIFY):
                return None
            return [await self.ask(turn, flow, await self._previous(turn, flow, step), again=True)]
        needed = await self.needed(turn, flow)
        target = None
        if fix.slot_word:
            target = next((s for s in needed if fix.slot_word in s.words or fix.slot_word == s.label), None)
        value = None
        if target is None:  # the slot whose value the message now carries differently
            for slot in needed:
                found = await _call(slot.extract, turn)
                if found is not None and slot.name in self.done(turn) and found != turn.state.slots.get(slot.name):
                    target, value = slot, found
                    break
        if target is None and fix.value_text:
            target = await self._slot_for_words(turn, needed, fix.value_text)
        if follow and target is None:
            return None  # "那X呢" that fits no slot: an answer like any other
        if target is None and step not in (CONFIRM, FIX):
            answered = [n for n in self.done(turn) if n != step]
            target = flow.slot(answered[-1]) if answered else None
        if target is None:
            turn.state.slots["_pending"] = fix.value_text
            return [await self.ask_fix(turn, flow, note="您要改哪一项？")]
        if value is None:
            value = await self._value_from(turn, target, fix.value_text)
        if value is None:
            return [await self.ask(turn, flow, target.name, again=True)]
        self.set_value(turn, target, value)
        turn.state.slots.pop(MISSES_KEY, None)
        note = f"好的，{target.label}改为：{await self.shown(turn, target, value)}。"
        return await self.proceed(turn, flow, note=note)

    async def _slot_for_words(self, turn: Turn, needed: list[Slot], text: str) -> Slot | None:
        """The one slot whose choices or `looks_like` the corrected words fit, if exactly one."""
        fitting = []
        for slot in needed:
            choices = await _call(slot.choices, turn) or []
            if (choices and len(match_choices(text, choices)) == 1) or (slot.looks_like and slot.looks_like(text)):
                fitting.append(slot)
        return fitting[0] if len(fitting) == 1 else None

    async def _value_from(self, turn: Turn, slot: Slot, text: str) -> Any:
        """The slot's value in the corrected words (a choice, a free answer or an entity)."""
        if not text:
            return None
        if slot.parse_first and slot.parse is not None:
            try:
                value = await _call(slot.parse, turn, text)
            except Rejected:
                value = None
            if value is not None:
                return value
        choices = await _call(slot.choices, turn) or []
        matched = match_choices(text, choices) if choices else []
        if len(matched) == 1:
            return matched[0].value
        try:
            value = await _call(slot.parse, turn, text) if slot.parse else None
        except Rejected:
            return None
        return value if value is not None else await _call(slot.extract, turn)

    async def _on_confirm(self, turn: Turn, flow: Flow) -> list[Reply] | None:
        answer = words.yes_no(turn.text)
        if answer is None and turn.intent == "affirm" and not self._unsure(turn) and len(words.plain(turn.text)) <= 6:
            answer = True
        if answer is True:
            try:
                return await flow.submit(turn)
            except CannotHandle as exc:
                return [await self.read_back(turn, flow, note=f"没能提交：{exc}")]
        if answer is False or words.kind_of(turn.text) == words.BACK:
            if flow.on_no == CANCEL_FLOW and words.number_of(turn.text) == 2:
                turn.state.end()
                return [turn.say(flow.cancel_template, title=flow.title)]
            if flow.on_no is not None and words.number_of(turn.text) == 2:
                return [await self.ask(turn, flow, flow.on_no, again=True)]
            return [await self.ask_fix(turn, flow)]
        target = await self._named_slot(turn, flow)
        if target is not None:  # "修改地点"
            return [await self.ask(turn, flow, target.name, again=True)]
        return await self._not_understood(turn, flow, note="请回复 1 确认提交，回复 2 修改。")

    async def _named_slot(self, turn: Turn, flow: Flow) -> Slot | None:
        said = words.plain(turn.text)
        if len(said) > 8 or not said:
            return None
        for slot in await self.needed(turn, flow):
            if any(word in said for word in (slot.label, *slot.words)):
                return slot
        return None

    async def _on_fix(self, turn: Turn, flow: Flow) -> list[Reply] | None:
        needed = await self.needed(turn, flow)
        number = words.number_of(turn.text)
        target = needed[number - 1] if number is not None and 0 < number <= len(needed) else None
        if target is None:
            target = await self._named_slot(turn, flow)
        if target is None:
            if words.yes_no(turn.text) is True:  # "没问题" after all: back to the read-back
                return [await self.read_back(turn, flow)]
            return await self._not_understood(turn, flow, note="请回复要修改的那一项的数字。")
        pending = turn.state.slots.pop("_pending", None)
        if pending:
            value = await self._value_from(turn, target, pending)
            if value is not None:
                self.set_value(turn, target, value)
                return await self.proceed(turn, flow, note=f"好的，{target.label}改为：{await self.shown(turn, target, value)}。")
        return [await self.ask(turn, flow, target.name, again=True)]

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
