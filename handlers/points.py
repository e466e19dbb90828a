"""Points in chat: the 积分存折 (balance and history), the 积分超市, 荣誉榜 and one's redemptions.

Flows:
- "points": after the balance, a menu: 1 积分超市 2 荣誉榜 3 我的兑换 4 更多明细;
- "redeem" (on the flow engine, handlers/flow.py): item -> read-back (price and balance) ->
  reserved with a pickup code. The item comes from any message ("我想换那个大米"), a number
  or the item's words; the shop marks what the resident can afford, and an item they cannot
  afford yet is said so (points missing), and a follow-up ("那洗衣皂呢") after that still refers
  to the shop (`DialogueState.topic`). Context and repair are the
  engine's: "那洗衣皂呢" at the read-back (or at the list) changes the item, 2 取消 ends it,
  不对 asks what to change, / 找人工 / 再说一遍 / digressions as everywhere. The idempotency key is drawn once
  per read-back, so a repeated "1" cannot redeem twice;
- "my_redemptions": pick a reservation -> cancel it (points back).
"""
from __future__ import annotations

import uuid
from typing import Any

from handlers.messages import Button, Reply
from handlers import words
from handlers.base import MENU_SELECT, Turn, registry
from handlers.flow import engine
from handlers.flow_choices import Choice
from handlers.flow_spec import CANCEL_FLOW, Flow, Slot
from services.points import TZ, PointsService
from services.points_errors import PointsError
from storage.ledger import resident_account
from storage.residents import Resident
from storage.shop import RESERVED, ShopItem

registry.add_menu_item("6", "我的积分", "check_points", "积分存折和积分超市", wechat_key="MENU_POINTS")
MENU, REDEEM, MINE = "points", "redeem", "my_redemptions"
MAX_ITEMS = 8
MENU_OPTIONS = [("1", "积分超市兑换"), ("2", "本月荣誉榜"), ("3", "我的兑换"), ("4", "更多积分明细")]
KIND_TITLES = {
    "earn": "获得", "award": "奖励", "deduct": "扣除", "reversal": "冲正", "redeem": "兑换",
    "redeem_void": "退回", "redeem_confirm": "领取",
}


def _points(turn: Turn) -> PointsService:
    return turn.services.points


async def resident_of(turn: Turn) -> Resident:
    return await turn.services.residents.me(turn.message.user_key)


def _buttons(options: list[tuple[str, str]]) -> list[Button]:
    return [Button(f"{key} {label}", key) for key, label in options]


def _picked(turn: Turn, count: int) -> int | None:
    """The 1-based number picked from a list of `count` (digits or 第二个), or None."""
    number = words.number_of(turn.text)
    return number if number is not None and 1 <= number <= count else None


def _wrong_number(turn: Turn, count: int) -> list[Reply] | None:
    """A number outside the list is explained; anything else is left to the router."""
    if words.number_of(turn.text) is None:
        return None
    return [turn.say("points_bad_number", choice=turn.text, count=count)]


def _lines(entries, account: str) -> list[dict]:
    return [{"day": f"{e.created_at.month}月{e.created_at.day}日", "delta": e.delta_for(account),
             "memo": e.memo or KIND_TITLES.get(e.kind, e.kind)} for e in entries]


@registry.on_intent("check_points")
async def check_points(turn: Turn) -> list[Reply]:
    resident = await resident_of(turn)
    points = _points(turn)
    balance = await points.balance(resident.id)
    history = await points.passbook(resident.id, limit=5)
    turn.state.start(MENU, "menu")
    return [turn.say("points_summary", balance=balance, lines=_lines(history, resident_account(resident.id)),
                     options=MENU_OPTIONS, buttons=_buttons(MENU_OPTIONS))]


@registry.on_flow(MENU)
async def points_menu(turn: Turn) -> list[Reply] | None:
    picked = _picked(turn, len(MENU_OPTIONS))
    if picked is None:
        if words.number_of(turn.text) is None:
            turn.state.end()  # words: routed as usual
        return _wrong_number(turn, len(MENU_OPTIONS))
    resident = await resident_of(turn)
    points = _points(turn)
    if picked == 1:
        return await open_shop(turn)
    if picked == 2:
        turn.state.end()
        month, board = await points.leaderboard(resident.community)
        return [turn.say("points_board", month=month, board=board, me=resident.id)]
    if picked == 3:
        return [await _mine(turn)]
    turn.state.end()
    history = await points.passbook(resident.id, limit=15)
    return [turn.say("points_history", balance=await points.balance(resident.id),
                     lines=_lines(history, resident_account(resident.id)))]


# ---- the redeem flow -------------------------------------------------------------------

async def shop_items(turn: Turn) -> list[ShopItem]:
    resident = await resident_of(turn)
    return [item for item in await _points(turn).items(resident.community) if item.active]


def core_name(name: str) -> str:
    """"大米 5kg" -> 大米, "抽纸（一提）" -> 抽纸: the words residents use for the item."""
    return words.plain(name.split(" ")[0].split("（")[0].split("(")[0]).replace("社区", "")


def named_in(name: str, text: str) -> bool:
    """"我要兑换一袋大米" names "大米 5kg": the item's core name (or a two-character piece) is in the text."""
    core, said = core_name(name), words.plain(text)
    if len(core) >= 2 and core in said:
        return True
    return len(core) >= 3 and any(core[i:i + 2] in said for i in range(len(core) - 1))


async def item_choices(turn: Turn) -> list[Choice]:
    return [Choice(item.id, item.name, (core_name(item.name),)) for item in await shop_items(turn)]


async def extract_item(turn: Turn) -> str | None:
    """The item a message names: the NLU's `item` span or the item's own words."""
    if turn.intent == MENU_SELECT or turn.message.kind not in ("text", "voice"):
        return None
    items = await shop_items(turn)
    span = str(turn.entity("item") or "")
    found = [item for item in items if (span and (span in item.name or core_name(item.name) in span))
             or named_in(item.name, turn.text)]
    return found[0].id if len(found) == 1 else None


async def shop_context(turn: Turn) -> dict[str, Any]:
    resident = await resident_of(turn)
    balance = await _points(turn).balance(resident.id)
    items = {item.name: item for item in await shop_items(turn)}
    return {"balance": balance, "items": items, "empty": not items}


async def show_item(turn: Turn, value: Any) -> str:
    item = await _points(turn).shop_item(value) if value else None
    return f"{item.name}（{item.points}积分）" if item else "未选择"


async def check(turn: Turn) -> list[Reply] | None:
    """The item can still be had (else the list with why) and the resident can afford it."""
    slots = turn.state.slots
    item_id = slots.get("item")
    if not item_id:
        if not await shop_items(turn):
            turn.state.end()
            return [turn.say("points_shop_empty")]
        return None
    resident = await resident_of(turn)
    points = _points(turn)
    item = await points.shop_item(item_id)
    balance = await points.balance(resident.id)
    note = None
    if item is None or not item.active or item.community != resident.community:
        note = "这件商品已经下架了。"
    elif item.stock < 1:
        note = f"“{item.name}”已经兑完了，看看别的吧。"
    elif balance < item.points:
        turn.state.end()
        turn.state.topic = {"flow": REDEEM}  # "那洗衣皂呢" still refers to the shop
        return [turn.say("points_short", item=item, balance=balance)]
    if note is not None:
        slots.pop("item", None)
        if "item" in engine.done(turn):
            engine.done(turn).remove("item")
        return [await engine.ask(turn, REDEEM_FLOW, "item", note=note)]
    slots.update(_name=item.name, _price=item.points, _balance=balance, _hold_days=points.hold_days)
    slots.setdefault("key", uuid.uuid4().hex)
    return None


async def submit(turn: Turn) -> list[Reply]:
    slots = turn.state.slots
    resident = await resident_of(turn)
    points = _points(turn)
    try:
        reservation = await points.redeem(resident, slots["item"], key=f"chat:{slots['key']}")
    except PointsError as exc:
        turn.state.end()
        return [turn.say("points_error", message=exc.zh)]
    turn.state.end()
    return [turn.say("points_redeemed", reservation=reservation, balance=await points.balance(resident.id),
                     expires=reservation.expires_at.astimezone(TZ).strftime("%m月%d日"))]


REDEEM_FLOW = engine.register(Flow(
    name=REDEEM, title="积分兑换",
    slots=[Slot("item", "商品", "points_shop", words=("商品", "东西"), choices=item_choices, extract=extract_item,
                context=shop_context, show=show_item)],
    confirm_template="points_confirm", submit=submit, intents={"redeem_points"}, check=check, on_no=CANCEL_FLOW,
    confirm_buttons=("确认兑换", "取消"), cancel_template="points_cancelled",
))


async def open_shop(turn: Turn) -> list[Reply]:
    turn.state.slots = {}
    return await engine.start(turn, REDEEM)


@registry.before_turn
async def shop_follow_up(turn: Turn) -> None:
    """"那洗衣皂呢" after the shop's flow ended (an item out of reach): another item of the shop."""
    topic = turn.state.topic or {}
    if turn.state.flow is not None or topic.get("flow") != REDEEM or turn.intent == MENU_SELECT:
        return
    follow = words.follow_up(turn.text)
    if follow is None or turn.services.points is None:
        return
    if any(named_in(item.name, follow.value_text) for item in await shop_items(turn)):
        turn.intent, turn.confidence = "redeem_points", 1.0


@registry.on_intent("redeem_points")
async def redeem_points(turn: Turn) -> list[Reply]:
    return await open_shop(turn)


# ---- my redemptions --------------------------------------------------------------------

async def _mine(turn: Turn) -> Reply:
    resident = await resident_of(turn)
    shown = await _points(turn).reservations(resident.id, MAX_ITEMS)
    if any(r.state == RESERVED for r in shown):
        turn.state.start(MINE, "pick", ids=[r.id for r in shown])
    else:
        turn.state.end()
    return turn.say("points_reservations", reservations=shown,
                    expires=lambda r: r.expires_at.astimezone(TZ).strftime("%m月%d日"))


@registry.on_flow(MINE)
async def my_redemptions(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step, turn.state.slots
    points = _points(turn)
    if step == "pick":
        picked = _picked(turn, len(slots.get("ids", [])))
        if picked is None:
            if words.number_of(turn.text) is None:
                turn.state.end()
            return _wrong_number(turn, len(slots.get("ids", [])))
        reservation = await points.reservation(slots["ids"][picked - 1])
        if reservation is None or reservation.state != RESERVED:
            turn.state.end()
            state = reservation.state_title if reservation else "找不到了"
            return [turn.say("points_error", message=f"这条兑换{state}，不用处理。")]
        slots.update(reservation_id=reservation.id)
        turn.state.step = "confirm"
        options = [("1", "取消兑换，积分退回"), ("2", "不取消")]
        return [turn.say("points_reservation_detail", reservation=reservation, options=options,
                         buttons=_buttons(options))]
    if step == "confirm":
        answer = words.yes_no(turn.text)
        if answer is None and words.kind_of(turn.text) == words.CANCEL:
            answer = False
        if answer is True:
            resident = await resident_of(turn)
            turn.state.end()
            try:
                done = await points.void(slots["reservation_id"], staff_id=None, reason="居民取消",
                                         resident_id=resident.id)
            except PointsError as exc:
                return [turn.say("points_error", message=exc.zh)]
            return [turn.say("points_done", message=f"已取消兑换“{done.item_name}”，{done.points}积分已退回。")]
        if answer is False:
            turn.state.end()
            return [turn.say("points_done", message="好的，兑换保留着。")]
        return None
    return None
