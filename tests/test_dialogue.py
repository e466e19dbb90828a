"""Dialogue state in real Redis and the router's rules for flows, digits and cancel."""
from __future__ import annotations

import asyncio

from bot.config import Settings
from bot.messages import InboundMessage, Reply
from handlers.base import MENU_SELECT, Registry, Services, Turn
from handlers.router import Router
from storage.dialogue_state import DialogueState, DialogueStateStore
from tests.waiting import expired


def make_registry() -> tuple[Registry, list[str]]:
    """A two-step flow ("pick a number, then confirm") registered like a capability."""
    registry = Registry()
    seen: list[str] = []
    registry.add_menu_item("1", "测试流程", "report_problem", "说明")

    @registry.on_intent("report_problem")
    async def start(turn: Turn) -> list[Reply]:
        turn.state.start("demo", "pick")
        return [Reply("请选择 1 或 2")]

    @registry.on_flow("demo")
    async def demo(turn: Turn) -> list[Reply] | None:
        seen.append(turn.text)
        if turn.state.step == "pick" and turn.intent == MENU_SELECT:
            turn.state.slots["choice"] = turn.text
            turn.state.step = "confirm"
            return [Reply(f"您选了{turn.text}，确认吗")]
        if turn.state.step == "confirm" and turn.intent == "affirm":
            choice = turn.state.slots["choice"]
            turn.state.end()
            return [Reply(f"已提交{choice}")]
        return None

    for name in ("help", "cancel", "nlu_fallback", "affirm", "greet"):
        registry.on_intent(name)(_echo(name))
    return registry, seen


def _echo(name):
    async def handler(turn: Turn) -> list[Reply]:
        if name in ("help", "cancel"):
            turn.state.end()
        return [Reply(name)]

    return handler


async def run(router: Router, store: DialogueStateStore, text: str, intent: str) -> str:
    state = await store.load("rest:u1")
    turn = Turn(
        message=InboundMessage(channel="rest", sender="u1", text=text),
        text=text, intent=intent, confidence=1.0, entities=[], state=state,
        services=Services(settings=Settings()),
    )
    replies = await router.dispatch(turn)
    await store.save("rest:u1", turn.state)
    return replies[0].text


async def test_flow_collects_slots_across_turns_in_redis(redis):
    registry, seen = make_registry()
    router, store = Router(registry), DialogueStateStore(redis, ttl_seconds=60)
    assert await run(router, store, "1", MENU_SELECT) == "请选择 1 或 2"
    state = await store.load("rest:u1")
    assert (state.flow, state.step) == ("demo", "pick")
    assert 0 < await redis.ttl("linli:dialogue:rest:u1") <= 60
    assert await run(router, store, "2", MENU_SELECT) == "您选了2，确认吗"
    assert await run(router, store, "好的", "affirm") == "已提交2"
    assert await redis.get("linli:dialogue:rest:u1") is None  # finished: nothing kept
    assert seen == ["2", "好的"]


async def test_flow_declines_a_message_and_the_intent_handler_answers(redis):
    registry, _ = make_registry()
    router, store = Router(registry), DialogueStateStore(redis, ttl_seconds=60)
    await run(router, store, "1", MENU_SELECT)
    assert await run(router, store, "你好", "greet") == "greet"
    assert (await store.load("rest:u1")).flow == "demo"  # the flow is still waiting


async def test_cancel_and_zero_leave_the_flow(redis):
    registry, seen = make_registry()
    router, store = Router(registry), DialogueStateStore(redis, ttl_seconds=60)
    await run(router, store, "1", MENU_SELECT)
    assert await run(router, store, "算了", "cancel") == "cancel"
    assert (await store.load("rest:u1")).flow is None
    await run(router, store, "1", MENU_SELECT)
    assert await run(router, store, "0", MENU_SELECT) == "help"
    assert (await store.load("rest:u1")).flow is None
    assert seen == []  # the flow never saw the cancel or the 0


async def test_dialogue_state_expires(redis):
    store = DialogueStateStore(redis, ttl_seconds=1)
    state = DialogueState()
    state.start("demo", "pick", choice="2")
    await store.save("rest:u2", state)
    assert (await store.load("rest:u2")).slots == {"choice": "2"}
    await expired(redis, "linli:dialogue:rest:u2")
    assert await store.load("rest:u2") == DialogueState()


async def test_corrupt_state_starts_afresh(redis):
    await redis.set("linli:dialogue:rest:u3", "{not json")
    store = DialogueStateStore(redis, ttl_seconds=60)
    assert await store.load("rest:u3") == DialogueState()


async def test_a_users_turns_are_serialised(redis):
    store = DialogueStateStore(redis, ttl_seconds=60)
    order: list[str] = []

    async def turn(name: str) -> None:
        async with store.locked("rest:u4"):
            order.append(f"{name}-in")
            await asyncio.sleep(0.1)
            order.append(f"{name}-out")

    await asyncio.gather(turn("a"), turn("b"))
    assert order in (["a-in", "a-out", "b-in", "b-out"], ["b-in", "b-out", "a-in", "a-out"])
