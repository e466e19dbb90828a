"""What a guided flow declares for the dialogue engine (handlers/flow.py): its ordered slots,
its read-back and its submit; the step names and state keys the engine keeps in `state`.

API (stable; capabilities build on it)::

    from handlers.flow import engine
    from handlers.flow_choices import Choice
    from handlers.flow_spec import Flow, Slot

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
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

from handlers.base import Turn
from handlers.messages import Reply

CONFIRM, FIX, CLARIFY = "confirm", "fix", "clarify"
CANCEL_FLOW = "_cancel"  # Flow.on_no: "2" at the read-back ends the flow unsaved
DONE_KEY, MISSES_KEY, PAGE_KEY = "_done", "_misses", "_page"


class CannotHandle(Exception):
    """Raised by a flow's submit when the request cannot be done; the message is shown."""


class Rejected(Exception):
    """Raised by a slot's parse: the answer is not accepted; the message is the note shown."""


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


async def call(func: Callable[..., Any] | None, *args: Any) -> Any:
    """Call a flow's callable, sync or async (None: nothing to call)."""
    if func is None:
        return None
    result = func(*args)
    return await result if inspect.isawaitable(result) else result
