"""Points in chat: the 积分存折 (balance and history), the 积分超市, 荣誉榜 and one's redemptions.

Flows:
- "points": after the balance, a menu: 1 积分超市 2 荣誉榜 3 我的兑换 4 更多明细;
- "redeem": pick an item -> confirm (read back price and balance) -> reserved with a
  pickup code. The idempotency key is drawn when the confirmation is asked, so a
  repeated "1" cannot redeem twice;
- "my_redemptions": pick a reservation -> cancel it (points back).
"""
from __future__ import annotations

import uuid

from bot.messages import Reply
from handlers.base import MENU_SELECT, Turn, registry
from handlers.sharing import digit, is_no, is_yes, leaves, not_picked, number_buttons, plain, resident_of
from services.points import TZ, PointsError, PointsService
from storage.ledger import resident_account
from storage.shop import RESERVED

MENU, REDEEM, MINE = "points", "redeem", "my_redemptions"
OWN = {"check_points", "redeem_points"}
MAX_ITEMS = 8
MENU_OPTIONS = [("1", "积分超市兑换"), ("2", "本月荣誉榜"), ("3", "我的兑换"), ("4", "更多积分明细")]
KIND_TITLES = {
    "earn": "获得", "award": "奖励", "deduct": "扣除", "reversal": "冲正", "redeem": "兑换",
    "redeem_void": "退回", "redeem_confirm": "领取",
}


def _points(turn: Turn) -> PointsService:
    return turn.services.points


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
                     options=MENU_OPTIONS, buttons=number_buttons(MENU_OPTIONS))]


@registry.on_intent("redeem_points")
async def redeem_points(turn: Turn) -> list[Reply]:
    resident = await resident_of(turn)
    items = await _points(turn).items(resident.community)
    wanted = str(turn.entity("item") or "")
    match = [item for item in items if item.stock > 0 and ((wanted and wanted in item.name) or _named(item.name, turn.text))]
    if len(match) == 1 and turn.intent != MENU_SELECT:
        return [await _confirm(turn, match[0].id)]
    return [await _shop(turn)]


def _named(name: str, text: str) -> bool:
    """"我要兑换一袋大米" names "大米 5kg": a two-character piece of the name is in the text."""
    core = plain(name.split(" ")[0].split("（")[0]).replace("社区", "")
    return len(core) >= 2 and any(core[i:i + 2] in text for i in range(len(core) - 1))


async def _shop(turn: Turn, note: str | None = None) -> Reply:
    resident = await resident_of(turn)
    points = _points(turn)
    items = [item for item in await points.items(resident.community)][:MAX_ITEMS]
    balance = await points.balance(resident.id)
    if not items:
        turn.state.end()
    else:
        turn.state.start(REDEEM, "pick", ids=[item.id for item in items])
    return turn.say("points_shop", items=items, balance=balance, note=note)


@registry.on_flow(MENU)
async def points_menu(turn: Turn) -> list[Reply] | None:
    picked = digit(turn, len(MENU_OPTIONS))
    if picked is None:
        return not_picked(turn, len(MENU_OPTIONS))
    resident = await resident_of(turn)
    points = _points(turn)
    if picked == 1:
        return [await _shop(turn)]
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


async def _confirm(turn: Turn, item_id: str) -> Reply:
    resident = await resident_of(turn)
    points = _points(turn)
    item = await points.shop.get_item(item_id)
    balance = await points.balance(resident.id)
    if item is None or not item.active or item.community != resident.community:
        return await _shop(turn, note="这件商品已经下架了。")
    if item.stock < 1:
        return await _shop(turn, note=f"“{item.name}”已经兑完了，看看别的吧。")
    if balance < item.points:
        turn.state.end()
        return turn.say("points_short", item=item, balance=balance)
    turn.state.start(REDEEM, "confirm", item_id=item.id, key=uuid.uuid4().hex)
    options = [("1", "确认兑换"), ("2", "取消")]
    return turn.say("points_confirm", item=item, balance=balance, options=options, hold_days=points.hold_days,
                    buttons=number_buttons(options))


@registry.on_flow(REDEEM)
async def redeem_flow(turn: Turn) -> list[Reply] | None:
    step, slots = turn.state.step, turn.state.slots
    if step == "pick":
        picked = digit(turn, len(slots.get("ids", [])))
        if picked is None:
            return not_picked(turn, len(slots.get("ids", [])))
        return [await _confirm(turn, slots["ids"][picked - 1])]
    if step == "confirm":
        if is_yes(turn):
            resident = await resident_of(turn)
            points = _points(turn)
            try:
                reservation = await points.redeem(resident, slots["item_id"], key=f"chat:{slots['key']}")
            except PointsError as exc:
                turn.state.end()
                return [turn.say("share_error", message=exc.zh)]
            turn.state.end()
            return [turn.say("points_redeemed", reservation=reservation, balance=await points.balance(resident.id),
                             expires=reservation.expires_at.astimezone(TZ).strftime("%m月%d日"))]
        if is_no(turn):
            turn.state.end()
            return [turn.say("cancelled", had_flow=True)]
        if leaves(turn, OWN):
            return None
        return [turn.say("share_error_keep", message="请回复 1 确认兑换，或 2 取消。")]
    return None


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
        picked = digit(turn, len(slots.get("ids", [])))
        if picked is None:
            return not_picked(turn, len(slots.get("ids", [])))
        reservation = await points.shop.get_reservation(slots["ids"][picked - 1])
        if reservation is None or reservation.state != RESERVED:
            turn.state.end()
            return [turn.say("share_error", message=f"这条兑换{reservation.state_title if reservation else '找不到了'}，不用处理。")]
        slots.update(reservation_id=reservation.id)
        turn.state.step = "confirm"
        options = [("1", "取消兑换，积分退回"), ("2", "不取消")]
        return [turn.say("points_reservation_detail", reservation=reservation, options=options,
                         buttons=number_buttons(options))]
    if step == "confirm":
        if is_yes(turn):
            resident = await resident_of(turn)
            try:
                done = await points.void(slots["reservation_id"], staff_id=None, reason="居民取消",
                                         resident_id=resident.id)
            except PointsError as exc:
                turn.state.end()
                return [turn.say("share_error", message=exc.zh)]
            turn.state.end()
            return [turn.say("share_done", message=f"已取消兑换“{done.item_name}”，{done.points}积分已退回。")]
        if is_no(turn):
            turn.state.end()
            return [turn.say("share_done", message="好的，兑换保留着。")]
        return None
    return None
