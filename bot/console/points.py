"""Console: points (积分). Within their scope staff
- hand over 积分超市 goods by pickup code (confirm) or void a reservation (points back);
- keep the shop's items and stock;
- look up a resident's 积分存折, award points with a reason, reverse an earning;
- see the monthly 荣誉榜.
Street admins and sysadmins edit the earning rules. Every change is audited.
"""
from __future__ import annotations

import re
import uuid
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.common import communities_in_scope, scope_of
from bot.privacy import can_see_contact
from services.points import PointsService
from services.points_errors import PointsError
from storage.ledger import resident_account
from storage.scope import in_scope
from storage.shop import RESERVED
from storage.staff import ADMIN_ROLES, STREET_ADMIN, SYSADMIN

routes = web.RouteTableDef()
_PHONE_LIKE = re.compile(r"\+?[\d\s\-]{7,20}")
NAV = [{"href": f"{PREFIX}/points", "title": "积分", "roles": ()}]
RULE_ROLES = (STREET_ADMIN, SYSADMIN)


def _service(request: web.Request) -> PointsService:
    return request.config_dict[keys.POINTS]


def _text(form: Any, name: str, max_len: int = 100) -> str:
    return str(form.get(name, "")).strip()[:max_len]


def _int(form: Any, name: str, low: int, high: int) -> int | None:
    raw = _text(form, name, 10)
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if low <= value <= high else None


async def _index(request: web.Request, message: str | None = None, error: str | None = None,
                 status: int = 200) -> web.Response:
    staff = request[STAFF]
    service = _service(request)
    scope = await scope_of(request)
    communities = await communities_in_scope(request)
    community = request.query.get("community") or (communities[0][0] if communities else "")
    if community and not in_scope(scope, community):
        raise web.HTTPNotFound()
    month, board = "", []
    if community:
        try:
            month, board = await service.leaderboard(community, request.query.get("month") or None)
        except ValueError:
            error, status = error or "月份格式应为 YYYY-MM", 400
            month, board = await service.leaderboard(community)
    return aiohttp_jinja2.render_template("points/index.html", request, {
        "reservations": await service.reservations_in_scope(scope, [RESERVED], 100),
        "recent": await service.reservations_in_scope(scope, None, 30),
        "items": await service.shop_items(scope, active_only=False),
        "rules": await service.earning_rules(), "can_edit_rules": staff.role in RULE_ROLES,
        "reviews": await service.pending_reviews(scope), "can_review": staff.role in ADMIN_ROLES,
        "can_manage_shop": staff.role in ADMIN_ROLES,
        "communities": communities, "community": community, "month": month, "board": board,
        "message": message, "error": error,
    }, status=status)


@routes.get(f"{PREFIX}/points")
@staff_required()
async def points_index(request: web.Request) -> web.StreamResponse:
    return await _index(request)


# -- reservations ---------------------------------------------------------------------------------


async def _scoped_reservation(request: web.Request, reservation_id: str):
    scope = await scope_of(request)
    reservation = await _service(request).reservation(reservation_id)
    if reservation is None or not in_scope(scope, reservation.community):
        raise web.HTTPNotFound()
    return reservation


@routes.post(f"{PREFIX}/points/pickup")
@staff_required()
async def pickup_by_code(request: web.Request) -> web.StreamResponse:
    """Hand over the goods of a pickup code (the resident shows it at the desk)."""
    form = await request.post()
    code = _text(form, "code", 12).upper()
    scope = await scope_of(request)
    reservation = await _service(request).reservation_by_code(code, scope) if code else None
    if reservation is None:
        return await _index(request, error=f"没有找到领取码“{code}”的兑换", status=404)
    return await _confirm(request, reservation.id)


@routes.post(f"{PREFIX}/points/reservations/{{reservation_id}}/confirm")
@staff_required()
async def confirm_reservation(request: web.Request) -> web.StreamResponse:
    return await _confirm(request, request.match_info["reservation_id"])


async def _confirm(request: web.Request, reservation_id: str) -> web.StreamResponse:
    staff = request[STAFF]
    before = await _scoped_reservation(request, reservation_id)
    try:
        after = await _service(request).confirm(before.id, staff_id=staff.id)
    except PointsError as exc:
        return await _index(request, error=exc.zh, status=exc.status)
    await request.config_dict[keys.AUDIT].record(
        staff, "points.redemption.confirm", "shop_reservations", before.id,
        {"state": before.state, "community": before.community}, {"state": after.state, "community": after.community},
        resident_id=before.resident_id,
    )
    return await _index(request, message=f"已核销：{after.item_name}（领取码 {after.code}）")


@routes.post(f"{PREFIX}/points/reservations/{{reservation_id}}/void")
@staff_required()
async def void_reservation(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    before = await _scoped_reservation(request, request.match_info["reservation_id"])
    reason = _text(await request.post(), "reason") or "工作人员取消"
    try:
        after = await _service(request).void(before.id, staff_id=staff.id, reason=reason)
    except PointsError as exc:
        return await _index(request, error=exc.zh, status=exc.status)
    await request.config_dict[keys.AUDIT].record(
        staff, "points.redemption.void", "shop_reservations", before.id,
        {"state": before.state, "community": before.community},
        {"state": after.state, "reason": reason, "community": after.community}, resident_id=before.resident_id,
    )
    return await _index(request, message=f"已取消：{after.item_name}，{after.points}积分已退回居民")


# -- awards held for review (over a rule's daily cap) ---------------------------------------------


@routes.post(f"{PREFIX}/points/reviews/{{review_id}}/{{decision:approve|reject}}")
@staff_required(*ADMIN_ROLES)
async def decide_review(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    service = _service(request)
    review = await service.review(request.match_info["review_id"])
    scope = await scope_of(request)
    if review is None or not in_scope(scope, review.community):
        raise web.HTTPNotFound()
    approve = request.match_info["decision"] == "approve"
    try:
        after = await service.decide_review(review.id, approve=approve, staff_id=staff.id)
    except PointsError as exc:
        return await _index(request, error=exc.zh, status=exc.status)
    await request.config_dict[keys.AUDIT].record(
        staff, "points.review.approve" if approve else "points.review.reject", "points_reviews", review.id,
        {"state": review.state, "points": review.points, "community": review.community},
        {"state": after.state, "points": after.points, "community": after.community}, resident_id=review.resident_id,
    )
    verb = "已批准" if approve else "已驳回"
    return await _index(request, message=f"{verb}：{review.title} {review.points}分")


# -- shop items -------------------------------------------------------------------------------------


@routes.post(f"{PREFIX}/points/items")
@staff_required(*ADMIN_ROLES)
async def add_item(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    form = await request.post()
    community, name = _text(form, "community", 64), _text(form, "name", 30)
    price, stock = _int(form, "points", 1, 100000), _int(form, "stock", 0, 100000)
    scope = await scope_of(request)
    if not community or not in_scope(scope, community):
        return await _index(request, error="请选择您管理的社区", status=400)
    if not name or price is None or stock is None:
        return await _index(request, error="请填写名称、所需积分（1-100000）和库存（0-100000）", status=400)
    item = await _service(request).add_shop_item(community, name, price, stock, _text(form, "description", 60))
    await request.config_dict[keys.AUDIT].record(
        staff, "points.item.create", "shop_items", item.id, None,
        {"name": name, "points": price, "stock": stock, "community": community},
    )
    return await _index(request, message=f"已上架：{name}")


@routes.post(f"{PREFIX}/points/items/{{item_id}}")
@staff_required(*ADMIN_ROLES)
async def update_item(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    points = _service(request)
    scope = await scope_of(request)
    before = await points.shop_item(request.match_info["item_id"])
    if before is None or not in_scope(scope, before.community):
        raise web.HTTPNotFound()
    form = await request.post()
    restock = _int(form, "restock", -100000, 100000) if _text(form, "restock", 10) else 0
    price = _int(form, "points", 1, 100000)
    if restock is None or price is None:
        return await _index(request, error="积分必须是1-100000，补货数量必须是整数", status=400)
    after = await points.update_shop_item(before.id, points=price, active=form.get("active") == "on")
    if restock:
        after = await points.restock(before.id, restock)
        if after is None:
            return await _index(request, error=f"库存不够减：现有{before.stock}件", status=400)
    await request.config_dict[keys.AUDIT].record(
        staff, "points.item.update", "shop_items", before.id,
        {"points": before.points, "stock": before.stock, "active": before.active, "community": before.community},
        {"points": after.points, "stock": after.stock, "active": after.active, "community": after.community},
    )
    return await _index(request, message=f"已更新：{after.name}")


# -- rules ---------------------------------------------------------------------------------------------


@routes.post(f"{PREFIX}/points/rules/{{rule_id}}")
@staff_required(*RULE_ROLES)
async def update_rule(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    points = _service(request)
    before = await points.earning_rule(request.match_info["rule_id"])
    if before is None:
        raise web.HTTPNotFound()
    form = await request.post()
    value = _int(form, "points", 0, 1000)
    if value is None:
        return await _index(request, error="积分必须是0-1000的整数", status=400)
    after = await points.update_earning_rule(before.id, points=value, active=form.get("active") == "on")
    await request.config_dict[keys.AUDIT].record(
        staff, "points.rule.update", "points_rules", before.id,
        {"points": before.points, "active": before.active}, {"points": after.points, "active": after.active},
        community=None,
    )
    return await _index(request, message=f"已更新规则：{after.title}")


# -- a resident's 积分存折 -------------------------------------------------------------------------------


async def _scoped_resident(request: web.Request, resident_id: str) -> dict[str, Any]:
    return await request.config_dict[keys.RESIDENT_DESK].get(resident_id, await scope_of(request))


@routes.get(f"{PREFIX}/points/residents")
@staff_required()
async def find_resident(request: web.Request) -> web.StreamResponse:
    """Find a resident by id, or by phone number for staff who may see phone numbers
    (a grid worker could otherwise confirm whose a full number is: they get the same
    answer for every number)."""
    query = request.query.get("q", "").strip()[:40]
    if not can_see_contact(request[STAFF]) and _PHONE_LIKE.fullmatch(query):
        return await _index(request, error="请用居民ID查找（网格员不能按手机号查找）", status=400)
    doc = await request.config_dict[keys.RESIDENT_DESK].find(query, await scope_of(request),
                                                              contact=can_see_contact(request[STAFF]))
    if doc is None:
        return await _index(request, error=f"没有找到居民“{query}”", status=404)
    raise web.HTTPFound(f"{PREFIX}/points/residents/{doc['_id']}")


async def _resident_page(request: web.Request, resident: dict[str, Any], message: str | None = None,
                         error: str | None = None, status: int = 200) -> web.Response:
    service = _service(request)
    entries = await service.passbook(resident["_id"], limit=100)
    return aiohttp_jinja2.render_template("points/resident.html", request, {
        "resident": resident, "balance": await service.balance(resident["_id"]), "entries": entries,
        "account": resident_account(resident["_id"]), "award_key": uuid.uuid4().hex,
        "reservations": await service.reservations(resident["_id"], 20), "message": message, "error": error,
    }, status=status)


@routes.get(f"{PREFIX}/points/residents/{{resident_id}}")
@staff_required()
async def resident_points(request: web.Request) -> web.StreamResponse:
    return await _resident_page(request, await _scoped_resident(request, request.match_info["resident_id"]))


@routes.post(f"{PREFIX}/points/residents/{{resident_id}}/award")
@staff_required(*ADMIN_ROLES)
async def award(request: web.Request) -> web.StreamResponse:
    """Award (or deduct) points with a reason; the form's key makes a resubmission a replay."""
    staff = request[STAFF]
    resident = await _scoped_resident(request, request.match_info["resident_id"])
    form = await request.post()
    amount, reason, key = _int(form, "points", -10000, 10000), _text(form, "reason"), _text(form, "key", 64)
    if not amount or not reason or len(key) < 16:
        return await _resident_page(request, resident, error="请填写积分（非0整数）和原因", status=400)
    try:
        entry = await _service(request).award(staff_id=staff.id, resident_id=resident["_id"], points=amount,
                                              reason=reason, key=key)
    except PointsError as exc:
        return await _resident_page(request, resident, error=exc.zh, status=exc.status)
    if not entry.replayed:
        await request.config_dict[keys.AUDIT].record(
            staff, "points.award", "ledger_entries", entry.id, None,
            {"points": amount, "reason": reason, "community": resident["community"]}, resident_id=resident["_id"],
        )
    raise web.HTTPFound(f"{PREFIX}/points/residents/{resident['_id']}")


@routes.post(f"{PREFIX}/points/entries/{{entry_id}}/reverse")
@staff_required(*ADMIN_ROLES)
async def reverse(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    service = _service(request)
    entry = await service.entry(request.match_info["entry_id"])
    scope = await scope_of(request)
    if entry is None or not entry.account.startswith("resident:") or not in_scope(scope, entry.community):
        raise web.HTTPNotFound()
    resident = await _scoped_resident(request, entry.account.split(":", 1)[1])
    reason = _text(await request.post(), "reason")
    try:
        reversal = await service.reverse(staff_id=staff.id, entry_id=entry.id, reason=reason)
    except PointsError as exc:
        return await _resident_page(request, resident, error=exc.zh, status=exc.status)
    if not reversal.replayed:
        await request.config_dict[keys.AUDIT].record(
            staff, "points.reverse", "ledger_entries", reversal.id, {"entry": entry.id, "amount": entry.amount},
            {"amount": reversal.amount, "reason": reason, "community": entry.community}, resident_id=resident["_id"],
        )
    raise web.HTTPFound(f"{PREFIX}/points/residents/{resident['_id']}")

