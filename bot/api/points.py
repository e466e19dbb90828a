"""Points for the mini-program: the 积分存折, the 积分超市, redemptions and the 荣誉榜.

GET  /api/v1/points                            balance and history (?limit=&offset=)
GET  /api/v1/points/shop                       items of my community's shop
POST /api/v1/points/redemptions                redeem {item_id, idempotency_key}: reserves stock and points
GET  /api/v1/points/redemptions                my redemptions (pickup codes)
POST /api/v1/points/redemptions/{id}/cancel    cancel a reservation not yet collected (points back)
GET  /api/v1/points/leaderboard?month=YYYY-MM  荣誉榜 of my community

A redemption retried with the same `idempotency_key` returns the first outcome.
"""
from __future__ import annotations

import re

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import current_resident
from bot.api.models.base import invalid, read_body
from bot.api.models.points import (
    Leaderboard, LeaderboardQuery, LeaderRow, Passbook, PassbookEntry, PassbookQuery, RedeemRequest,
    Redemption, Redemptions, ShopItem, ShopItems,
)
from bot.api.spec import NOT_FOUND, operations
from bot.errors import ApiError
from services.points import PointsService
from storage.ledger import resident_account

routes = web.RouteTableDef()
op = operations("points")
_ID = re.compile(r"[0-9a-f]{24}")


def _service(request: web.Request) -> PointsService:
    return request.config_dict[keys.POINTS]


@routes.get(f"{PREFIX}/points")
@op("getPoints", "积分存折：余额和明细", query=PassbookQuery, answers={200: Passbook})
async def passbook(request: web.Request) -> web.Response:
    resident = current_resident(request)
    query = PassbookQuery.parse_request(request)
    service = _service(request)
    entries = await service.passbook(resident.id, limit=query.limit, skip=query.offset)
    account = resident_account(resident.id)
    return json_response(Passbook(balance=await service.balance(resident.id),
                                  history=[PassbookEntry.of(e, account) for e in entries]))


@routes.get(f"{PREFIX}/points/shop")
@op("getShop", "本社区积分超市的商品", answers={200: ShopItems})
async def shop(request: web.Request) -> web.Response:
    resident = current_resident(request)
    items = await _service(request).items(resident.community)
    return json_response(ShopItems(items=[ShopItem.of(item) for item in items]))


@routes.post(f"{PREFIX}/points/redemptions")
@op("redeem", "兑换：同时预留库存和积分；同一 idempotency_key 重试返回第一次的结果", body=RedeemRequest,
    answers={201: (Redemption, "已预留，凭领取码领取"), 404: NOT_FOUND,
             409: "积分不够（insufficient_points）或已兑完（out_of_stock）"})
async def redeem(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_body(request, RedeemRequest)
    reservation = await _service(request).redeem(resident, body.item_id, key=f"mp:{body.idempotency_key}")
    return json_response(Redemption.of(reservation), status=201)


@routes.get(f"{PREFIX}/points/redemptions")
@op("myRedemptions", "我的兑换", answers={200: Redemptions})
async def my_redemptions(request: web.Request) -> web.Response:
    resident = current_resident(request)
    reservations = await _service(request).reservations(resident.id, 50)
    return json_response(Redemptions(redemptions=[Redemption.of(r) for r in reservations]))


@routes.post(r"/api/v1/points/redemptions/{id:[^/]+}/cancel")
@op("cancelRedemption", "取消未领取的兑换，积分退回",
    answers={200: Redemption, 404: NOT_FOUND, 409: "已领取或已取消"})
async def cancel_redemption(request: web.Request) -> web.Response:
    resident = current_resident(request)
    reservation_id = request.match_info["id"]
    if not _ID.fullmatch(reservation_id):
        raise ApiError(404, "not_found", "找不到这条兑换记录", "not a valid id")
    reservation = await _service(request).void(reservation_id, staff_id=None, reason="居民取消",
                                               resident_id=resident.id)
    return json_response(Redemption.of(reservation))


@routes.get(f"{PREFIX}/points/leaderboard")
@op("leaderboard", "本社区荣誉榜（按月获得的积分）", query=LeaderboardQuery, answers={200: Leaderboard})
async def leaderboard(request: web.Request) -> web.Response:
    resident = current_resident(request)
    query = LeaderboardQuery.parse_request(request)
    try:
        label, board = await _service(request).leaderboard(resident.community, query.month)
    except ValueError:
        raise invalid("month", "月份不正确", "month out of range") from None
    return json_response(Leaderboard(month=label, rows=[
        LeaderRow(rank=row.rank, name=row.display_name, points=row.points, me=row.resident_id == resident.id)
        for row in board]))
