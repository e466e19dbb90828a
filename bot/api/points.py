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
from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import current_resident
from bot.api.spec import BAD_REQUEST, COMMON, error, ok
from bot.api.validation import get_field, invalid, read_object, reject_unknown
from bot.errors import ApiError
from services.points import PointsService
from storage.ledger import Entry, resident_account
from storage.shop import Reservation, ShopItem

routes = web.RouteTableDef()
_ID = re.compile(r"[0-9a-f]{24}")
_KEY = re.compile(r"[\w\-:.]{8,64}")
_MONTH = re.compile(r"\d{4}-\d{2}")


def _service(request: web.Request) -> PointsService:
    return request.config_dict[keys.POINTS]


def entry_json(entry: Entry, account: str) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind, "points": entry.delta_for(account), "memo": entry.memo,
            "created_at": entry.created_at}


def item_json(item: ShopItem) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "points": item.points, "stock": item.stock,
            "description": item.description}


def reservation_json(reservation: Reservation) -> dict[str, Any]:
    return {"id": reservation.id, "item_id": reservation.item_id, "item_name": reservation.item_name,
            "points": reservation.points, "code": reservation.code, "state": reservation.state,
            "state_title": reservation.state_title, "created_at": reservation.created_at,
            "expires_at": reservation.expires_at, "closed_at": reservation.closed_at}


def _int_query(request: web.Request, name: str, default: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or int(raw) > high:
        raise invalid(name, f"必须是0到{high}的整数", f"must be an integer 0-{high}")
    return int(raw)


@routes.get(f"{PREFIX}/points")
async def passbook(request: web.Request) -> web.Response:
    resident = current_resident(request)
    limit, offset = _int_query(request, "limit", 20, 100), _int_query(request, "offset", 0, 10000)
    service = _service(request)
    entries = await service.passbook(resident.id, limit=limit, skip=offset)
    account = resident_account(resident.id)
    return json_response({"balance": await service.balance(resident.id),
                          "history": [entry_json(e, account) for e in entries]})


@routes.get(f"{PREFIX}/points/shop")
async def shop(request: web.Request) -> web.Response:
    resident = current_resident(request)
    items = await _service(request).items(resident.community)
    return json_response({"items": [item_json(item) for item in items]})


@routes.post(f"{PREFIX}/points/redemptions")
async def redeem(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_object(request)
    reject_unknown(body, {"item_id", "idempotency_key"})
    item_id = get_field(body, "item_id", str, max_len=100)
    key = get_field(body, "idempotency_key", str, max_len=64)
    if not _KEY.fullmatch(key):
        raise invalid("idempotency_key", "应为8到64位字母、数字或 -_:.", "must be 8-64 of letters, digits, -_:.")
    reservation = await _service(request).redeem(resident, item_id, key=f"mp:{key}")
    return json_response(reservation_json(reservation), status=201)


@routes.get(f"{PREFIX}/points/redemptions")
async def my_redemptions(request: web.Request) -> web.Response:
    resident = current_resident(request)
    reservations = await _service(request).reservations(resident.id, 50)
    return json_response({"redemptions": [reservation_json(r) for r in reservations]})


@routes.post(r"/api/v1/points/redemptions/{id:[^/]+}/cancel")
async def cancel_redemption(request: web.Request) -> web.Response:
    resident = current_resident(request)
    reservation_id = request.match_info["id"]
    if not _ID.fullmatch(reservation_id):
        raise ApiError(404, "not_found", "找不到这条兑换记录", "not a valid id")
    reservation = await _service(request).void(reservation_id, staff_id=None, reason="居民取消",
                                               resident_id=resident.id)
    return json_response(reservation_json(reservation))


@routes.get(f"{PREFIX}/points/leaderboard")
async def leaderboard(request: web.Request) -> web.Response:
    resident = current_resident(request)
    month = request.query.get("month")
    if month is not None and not _MONTH.fullmatch(month):
        raise invalid("month", "格式应为 YYYY-MM", "must be YYYY-MM")
    try:
        label, board = await _service(request).leaderboard(resident.community, month)
    except ValueError:
        raise invalid("month", "月份不正确", "month out of range") from None
    return json_response({"month": label, "rows": [
        {"rank": row.rank, "name": row.display_name, "points": row.points, "me": row.resident_id == resident.id}
        for row in board]})




OPENAPI: dict[str, Any] = {
    f"{PREFIX}/points": {"get": {
        "tags": ["points"], "summary": "积分存折：余额和明细", "operationId": "getPoints",
        "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 100, "default": 20}},
                       {"name": "offset", "in": "query", "schema": {"type": "integer", "default": 0}}],
        "responses": {**ok("Passbook"), **BAD_REQUEST, **COMMON}}},
    f"{PREFIX}/points/shop": {"get": {
        "tags": ["points"], "summary": "本社区积分超市的商品", "operationId": "getShop",
        "responses": {**ok("ShopItems"), **COMMON}}},
    f"{PREFIX}/points/redemptions": {
        "post": {"tags": ["points"], "summary": "兑换：同时预留库存和积分；同一 idempotency_key 重试返回第一次的结果",
                 "operationId": "redeem",
                 "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/RedeemRequest"}}}},
                 "responses": {**ok("Redemption", "已预留，凭领取码领取", "201"),
                               "404": {"$ref": "#/components/responses/NotFound"},
                               "409": error("积分不够（insufficient_points）或已兑完（out_of_stock）"),
                               **BAD_REQUEST, **COMMON}},
        "get": {"tags": ["points"], "summary": "我的兑换", "operationId": "myRedemptions",
                "responses": {**ok("Redemptions"), **COMMON}},
    },
    f"{PREFIX}/points/redemptions/{{id}}/cancel": {"post": {
        "tags": ["points"], "summary": "取消未领取的兑换，积分退回", "operationId": "cancelRedemption",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {**ok("Redemption"), "404": {"$ref": "#/components/responses/NotFound"},
                      "409": error("已领取或已取消"), **COMMON}}},
    f"{PREFIX}/points/leaderboard": {"get": {
        "tags": ["points"], "summary": "本社区荣誉榜（按月获得的积分）", "operationId": "leaderboard",
        "parameters": [{"name": "month", "in": "query", "schema": {"type": "string", "pattern": "^\\d{4}-\\d{2}$"}}],
        "responses": {**ok("Leaderboard"), **BAD_REQUEST, **COMMON}}},
}

_TS = {"type": "string", "format": "date-time"}
OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Passbook": {"type": "object", "properties": {
            "balance": {"type": "integer"},
            "history": {"type": "array", "items": {"type": "object", "properties": {
                "id": {"type": "string"}, "kind": {"type": "string"}, "points": {"type": "integer", "description": "正数获得，负数支出"},
                "memo": {"type": "string", "nullable": True}, "created_at": _TS}}}}},
        "ShopItem": {"type": "object", "properties": {
            "id": {"type": "string"}, "name": {"type": "string"}, "points": {"type": "integer"},
            "stock": {"type": "integer"}, "description": {"type": "string"}}},
        "ShopItems": {"type": "object", "properties": {"items": {"type": "array", "items": {"$ref": "#/components/schemas/ShopItem"}}}},
        "RedeemRequest": {"type": "object", "required": ["item_id", "idempotency_key"], "additionalProperties": False,
                          "properties": {"item_id": {"type": "string"},
                                         "idempotency_key": {"type": "string", "pattern": "^[\\w\\-:.]{8,64}$",
                                                             "description": "客户端为每次兑换生成的唯一编号"}}},
        "Redemption": {"type": "object", "properties": {
            "id": {"type": "string"}, "item_id": {"type": "string"}, "item_name": {"type": "string"},
            "points": {"type": "integer"}, "code": {"type": "string", "description": "领取码"},
            "state": {"type": "string", "enum": ["reserving", "reserved", "fulfilling", "fulfilled", "voiding", "voided", "failed"]},
            "state_title": {"type": "string"}, "created_at": _TS, "expires_at": _TS}},
        "Redemptions": {"type": "object", "properties": {"redemptions": {"type": "array", "items": {"$ref": "#/components/schemas/Redemption"}}}},
        "Leaderboard": {"type": "object", "properties": {
            "month": {"type": "string"},
            "rows": {"type": "array", "items": {"type": "object", "properties": {
                "rank": {"type": "integer"}, "name": {"type": "string", "description": "打码后的姓名"},
                "points": {"type": "integer"}, "me": {"type": "boolean"}}}}}},
    }
}
