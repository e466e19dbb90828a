"""The dialogue router: an ongoing flow first, then the intent's handler.

Menu digits arrive as `menu_select` without going through the NLU: inside a flow the
flow interprets them (a numbered choice); otherwise they pick from the main menu.
Flows on the engine (handlers/flow.py) see cancel and 找人工 themselves (repair patterns);
outside a flow, `registry.answer_first` hooks may answer before the intent's handler (the FAQ);
outside a flow an intent the message does not clearly carry becomes a clarification
(handlers/clarify.py).
"""
from __future__ import annotations

from handlers.messages import Reply
from handlers.base import FALLBACK, MENU_SELECT, Registry, Turn
from handlers.clarify import gate

GLOBAL_KEYS = {"0": "help", "9": "human_handoff"}
# Intents that end whatever flow is going on instead of being answered inside it.
FLOW_BREAKERS = {"cancel", "help", "human_handoff"}


class Router:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    async def dispatch(self, turn: Turn) -> list[Reply]:
        for before in self.registry.before:
            await before(turn)
        replies = await self._route(turn)
        for after in self.registry.after:
            replies = await after(turn, replies)
        return replies

    async def _route(self, turn: Turn) -> list[Reply]:
        state = turn.state
        if turn.intent == MENU_SELECT and turn.text in GLOBAL_KEYS:
            turn.intent = GLOBAL_KEYS[turn.text]
        flow = self.registry.flows.get(state.flow) if state.flow else None
        if state.flow and flow is None:
            state.end()  # a flow from an older release: start afresh
        engine_flow = state.flow in self.registry.engine_flows and turn.intent != "help"
        if flow is not None and (engine_flow or turn.intent not in FLOW_BREAKERS):
            replies = await flow(turn)
            if replies is not None:
                state.misses = 0
                return replies
        if turn.intent == MENU_SELECT:
            intent = self.registry.menu_intent(turn.text)
            if intent is None:
                return [turn.say("invalid_choice", choice=turn.text)]
            turn.intent = intent
        gate(turn)  # smalltalk only for short or clear messages; dead-end answers only when sure
        if state.flow is None:  # e.g. a question the community FAQ answers (handlers/faq.py)
            for hook in self.registry.answer_first:
                answered = await hook(turn)
                if answered is not None:
                    state.misses = 0
                    return answered
        if turn.intent in FLOW_BREAKERS and state.flow:
            turn.ended_flow = state.flow
            state.end()
        state.misses = state.misses + 1 if turn.intent == FALLBACK else 0
        handler = self.registry.intents.get(turn.intent or FALLBACK)
        if handler is None:
            title = self.registry.titles.get(turn.intent or "")
            if title is None:
                handler = self.registry.intents[FALLBACK]
            else:
                return [turn.say("not_available", title=title)]
        return await handler(turn)
