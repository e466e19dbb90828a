"""Console: bookings (预约) of the staff member's scope.

- /console/bookings?date=&service=   the day's slots (roster per day), booked / places
- /console/bookings/slots/{id}       who booked (names, phones masked by role), the queue,
                                     attendance (到场 / 爽约), staff cancellation, slot edit
- /console/bookings/slots/new        a new slot (admins)
- /console/bookings/rentals          rehab aids out on loan, marked returned here
- /console/bookings/links            family / volunteer links: confirm by code, create, revoke (admins)
Every change is audited.
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.common import community_names, scope_of
from bot.safe_input import parse_day
from domain.time import TZ
from services.booking_times import day_label, local
from services.booking_rules import BookingRefused
from services.bookings import BookingService
from storage.audit import AuditLog
from storage.residents import Resident
from storage.scope import in_scope
from storage.staff import ADMIN_ROLES

routes = web.RouteTableDef()
NAV = [{"href": f"{PREFIX}/bookings", "title": "预约", "roles": ()}]
ATTENDANCE_NAMES = {"attended": "已到场", "no_show": "爽约"}
STATUS_NAMES = {"booked": "有效", "cancelled": "已取消", "returned": "已归还"}
WAIT_NAMES = {"waiting": "排队中", "offered": "已通知，待确认"}
_HHMM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_CODE = re.compile(r"\d{6}")


def _svc(request: web.Request) -> BookingService:
    return request.config_dict[keys.BOOKINGS]


def _audit(request: web.Request) -> AuditLog:
    return request.config_dict[keys.AUDIT]


def _day(raw: str | None, today: date) -> date:
    try:
        return parse_day(raw) if raw else today
    except ValueError:
        raise web.HTTPBadRequest() from None


async def _people(request: web.Request, ids: set[str]) -> dict[str, Resident]:
    svc = _svc(request)
    found = {}
    for rid in ids:
        if rid and (person := await svc.resident(rid)) is not None:
            found[rid] = person
    return found


# ---- day roster ----------------------------------------------------------------------------

@routes.get(f"{PREFIX}/bookings")
@staff_required()
async def roster(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    scope = await scope_of(request)
    now = svc.clock()
    day = _day(request.query.get("date"), now.astimezone(TZ).date())
    service = request.query.get("service") or None
    start = datetime.combine(day, time(0), tzinfo=TZ)
    slots = await svc.roster(scope, start, start + timedelta(days=1), service)
    services = {s["_id"]: s for s in await svc.services_in_scope(scope)}
    return aiohttp_jinja2.render_template("bookings/roster.html", request, {
        "day": day, "day_label": day_label(start, now), "prev": day - timedelta(days=1), "next": day + timedelta(days=1),
        "slots": slots, "services": services, "service": service, "local": local,
        "codes": sorted({(s["code"], s["name"]) for s in services.values()}, key=lambda c: c[0]),
        "communities": await community_names(request), "can_edit": request[STAFF].role in ADMIN_ROLES,
    })


# ---- new slot ----------------------------------------------------------------------------------

async def _new_page(request: web.Request, values: dict[str, Any], error: str | None = None,
                    status: int = 200) -> web.Response:
    services = [s for s in await _svc(request).services_in_scope(await scope_of(request)) if s.get("kind") != "rental"]
    return aiohttp_jinja2.render_template("bookings/new.html", request, {
        "services": services, "values": values, "error": error, "communities": await community_names(request),
    }, status=status)


@routes.get(f"{PREFIX}/bookings/slots/new")
@staff_required(*ADMIN_ROLES)
async def slot_new(request: web.Request) -> web.StreamResponse:
    today = _svc(request).clock().astimezone(TZ).date()
    return await _new_page(request, {"date": request.query.get("date") or today.isoformat(), "capacity": "10"})


@routes.post(f"{PREFIX}/bookings/slots/new")
@staff_required(*ADMIN_ROLES)
async def slot_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {k: str(form.get(k, "")).strip()[:60] for k in ("service_id", "date", "start", "end", "capacity", "title")}
    svc = _svc(request)
    service = await svc.service(values["service_id"])
    if service is None or not in_scope(await scope_of(request), service["community"]):
        return await _new_page(request, values, "请选择服务。", status=400)
    try:
        day = parse_day(values["date"])
    except ValueError:
        return await _new_page(request, values, "日期格式应为 2026-01-31。", status=400)
    start_m, end_m = _HHMM.fullmatch(values["start"]), _HHMM.fullmatch(values["end"])
    if not start_m or not end_m or not values["capacity"].isdigit():
        return await _new_page(request, values, "时间请写成 09:30 这样，名额填数字。", status=400)
    start = datetime.combine(day, time(int(start_m[1]), int(start_m[2])), tzinfo=TZ)
    end = datetime.combine(day, time(int(end_m[1]), int(end_m[2])), tzinfo=TZ)
    try:
        slot = await svc.create_slot(service, start, end, int(values["capacity"]), values["title"] or None)
    except BookingRefused as exc:
        return await _new_page(request, values, exc.text, status=400)
    await _audit(request).record(request[STAFF], "booking_slot.create", "booking_slots", slot["_id"], None,
                                 {"service": slot["service"], "start": start, "end": end,
                                  "capacity": slot["capacity"], "title": slot.get("title")},
                                 community=slot["community"])
    raise web.HTTPFound(f"{PREFIX}/bookings/slots/{slot['_id']}")


async def _scoped_slot(request: web.Request) -> dict[str, Any]:
    slot = await _svc(request).slot(request.match_info["slot_id"][:32])
    if slot is None or not in_scope(await scope_of(request), slot["community"]):
        raise web.HTTPNotFound()
    return slot


async def _slot_page(request: web.Request, slot: dict[str, Any], error: str | None = None,
                     status: int = 200) -> web.Response:
    svc = _svc(request)
    bookings = await svc.slot_bookings(slot["_id"])
    if slot.get("kind") == "rental":
        bookings = [b for b in bookings if b["status"] == "booked"]
    queue = await svc.slot_queue(slot["_id"])
    people = await _people(request, {b["resident_id"] for b in bookings} | {b.get("booked_by") for b in bookings}
                           | {e["resident_id"] for e in queue})
    service = await svc.service(slot["service_id"]) or {}
    return aiohttp_jinja2.render_template("bookings/slot.html", request, {
        "slot": slot, "service": service, "bookings": bookings, "queue": queue, "people": people,
        "local": local, "error": error, "attendance_names": ATTENDANCE_NAMES, "status_names": STATUS_NAMES,
        "wait_names": WAIT_NAMES, "can_edit": request[STAFF].role in ADMIN_ROLES,
        "started": slot.get("start") is None or svc.clock() >= slot["start"] - timedelta(hours=1),
        "active_count": sum(b["status"] == "booked" for b in bookings),
    }, status=status)


@routes.get(f"{PREFIX}/bookings/slots/{{slot_id}}")
@staff_required()
async def slot_detail(request: web.Request) -> web.StreamResponse:
    return await _slot_page(request, await _scoped_slot(request))


@routes.post(f"{PREFIX}/bookings/slots/{{slot_id}}")
@staff_required(*ADMIN_ROLES)
async def slot_edit(request: web.Request) -> web.StreamResponse:
    slot = await _scoped_slot(request)
    form = await request.post()
    capacity_raw = str(form.get("capacity", "")).strip()
    if not capacity_raw.isdigit():
        return await _slot_page(request, slot, "名额要填数字。", status=400)
    status = str(form.get("status", slot.get("status")))
    try:
        after = await _svc(request).edit_slot(slot["_id"], capacity=int(capacity_raw),
                                              title=str(form.get("title", "")).strip()[:40], status=status)
    except BookingRefused as exc:
        return await _slot_page(request, slot, exc.text, status=400)
    keep = ("capacity", "title", "status")
    await _audit(request).record(request[STAFF], "booking_slot.edit", "booking_slots", slot["_id"],
                                 {k: slot.get(k) for k in keep}, {k: after.get(k) for k in keep},
                                 community=slot["community"])
    raise web.HTTPFound(f"{PREFIX}/bookings/slots/{slot['_id']}")


# ---- one booking: attendance, cancellation, return ---------------------------------------------

async def _scoped_booking(request: web.Request) -> dict[str, Any]:
    booking = await _svc(request).booking(request.match_info["booking_id"][:32])
    if booking is None or not in_scope(await scope_of(request), booking["community"]):
        raise web.HTTPNotFound()
    return booking


async def _after_action(request: web.Request, booking: dict[str, Any], error: str | None) -> web.StreamResponse:
    if error is None:
        raise web.HTTPFound(f"{PREFIX}/bookings/slots/{booking['slot_id']}")
    slot = await _svc(request).slot(booking["slot_id"])
    return await _slot_page(request, slot, error, status=400)


@routes.post(f"{PREFIX}/bookings/{{booking_id}}/attendance")
@staff_required()
async def attendance(request: web.Request) -> web.StreamResponse:
    booking = await _scoped_booking(request)
    value = str((await request.post()).get("attendance", ""))
    try:
        done = await _svc(request).mark_attendance(booking["_id"], value, request[STAFF])
    except BookingRefused as exc:
        return await _after_action(request, booking, exc.text)
    await _audit(request).record(request[STAFF], "booking.attendance", "bookings", booking["_id"],
                                 {"attendance": booking.get("attendance")}, {"attendance": done.get("attendance")},
                                 community=booking["community"], resident_id=booking["resident_id"])
    return await _after_action(request, booking, None)


@routes.post(f"{PREFIX}/bookings/{{booking_id}}/cancel")
@staff_required()
async def cancel(request: web.Request) -> web.StreamResponse:
    booking = await _scoped_booking(request)
    reason = str((await request.post()).get("reason", "")).strip()[:100]
    if not reason:
        return await _after_action(request, booking, "取消预约要写明原因，系统会通知居民。")
    try:
        await _svc(request).cancel(booking["_id"], staff=request[STAFF], reason=reason)
    except BookingRefused as exc:
        return await _after_action(request, booking, exc.text)
    await _audit(request).record(request[STAFF], "booking.cancel", "bookings", booking["_id"],
                                 {"status": booking["status"]}, {"status": "cancelled", "reason": reason},
                                 community=booking["community"], resident_id=booking["resident_id"])
    return await _after_action(request, booking, None)


@routes.post(f"{PREFIX}/bookings/{{booking_id}}/return")
@staff_required()
async def returned(request: web.Request) -> web.StreamResponse:
    booking = await _scoped_booking(request)
    try:
        await _svc(request).return_rental(booking["_id"], request[STAFF])
    except BookingRefused as exc:
        return await _after_action(request, booking, exc.text)
    await _audit(request).record(request[STAFF], "booking.return", "bookings", booking["_id"],
                                 {"status": booking["status"]}, {"status": "returned"},
                                 community=booking["community"], resident_id=booking["resident_id"])
    return await _after_action(request, booking, None)


# ---- rentals ------------------------------------------------------------------------------------

@routes.get(f"{PREFIX}/bookings/rentals")
@staff_required()
async def rentals(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    pools = await svc.rental_pools(await scope_of(request))
    return aiohttp_jinja2.render_template("bookings/rentals.html", request, {
        "pools": pools, "communities": await community_names(request),
    })


# ---- resident links ----------------------------------------------------------------------------

async def _links_page(request: web.Request, error: str | None = None, notice: str | None = None,
                      status: int = 200) -> web.Response:
    svc = _svc(request)
    links = await svc.links_in_scope(await scope_of(request))
    links = [link for link in links if link["status"] in ("pending", "confirmed")]
    people = await _people(request, {link["helper_id"] for link in links} | {link.get("elder_id") for link in links})
    return aiohttp_jinja2.render_template("bookings/links.html", request, {
        "links": links, "people": people, "error": error, "notice": notice, "local": local,
        "can_edit": request[STAFF].role in ADMIN_ROLES, "communities": await community_names(request),
    }, status=status)


@routes.get(f"{PREFIX}/bookings/links")
@staff_required()
async def links(request: web.Request) -> web.StreamResponse:
    return await _links_page(request)


async def _resident_by_phone(request: web.Request, phone: str) -> Resident | None:
    """A resident of the staff member's scope by phone (staff verify people in person)."""
    return await request.config_dict[keys.RESIDENT_DESK].by_phone(phone, await scope_of(request))


@routes.post(f"{PREFIX}/bookings/links")
@staff_required(*ADMIN_ROLES)
async def link_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    svc = _svc(request)
    relation = str(form.get("relation", ""))
    label = str(form.get("label", "")).strip()[:12] or None
    helper = await _resident_by_phone(request, str(form.get("helper_phone", "")).strip())
    elder = await _resident_by_phone(request, str(form.get("elder_phone", "")).strip())
    if relation not in ("family", "volunteer"):
        return await _links_page(request, "请选择关系。", status=400)
    if helper is None or elder is None:
        return await _links_page(request, "没有找到这个手机号登记的居民（只能查本辖区）。", status=400)
    if helper.id == elder.id:
        return await _links_page(request, "两个手机号是同一个人。", status=400)
    staff = request[STAFF]
    link = await svc.link_confirmed(helper.id, elder.id, relation, label, elder.community,
                                  confirmed_by=f"staff:{staff.id}")
    await _audit(request).record(staff, "resident_link.create", "resident_links", link["_id"], None,
                                 {"helper_id": helper.id, "elder_id": elder.id, "relation": relation, "label": label},
                                 community=elder.community, resident_id=elder.id)
    return await _links_page(request, notice="已绑定。")


@routes.post(f"{PREFIX}/bookings/links/confirm")
@staff_required(*ADMIN_ROLES)
async def link_confirm(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    code = str(form.get("code", "")).strip()
    elder = await _resident_by_phone(request, str(form.get("elder_phone", "")).strip())
    if not _CODE.fullmatch(code) or elder is None:
        return await _links_page(request, "请填写6位验证码和老人登记的手机号。", status=400)
    try:
        link = await _svc(request).confirm_link(elder, code)
    except BookingRefused as exc:
        return await _links_page(request, exc.text, status=400)
    await _audit(request).record(request[STAFF], "resident_link.confirm", "resident_links", link["_id"],
                                 {"status": "pending"}, {"status": "confirmed", "elder_id": elder.id},
                                 community=elder.community, resident_id=elder.id)
    return await _links_page(request, notice="已确认绑定。")


@routes.post(f"{PREFIX}/bookings/links/{{link_id}}/revoke")
@staff_required(*ADMIN_ROLES)
async def link_revoke(request: web.Request) -> web.StreamResponse:
    svc = _svc(request)
    done = await svc.revoke_link(request.match_info["link_id"][:32], await scope_of(request))
    if done is None:
        raise web.HTTPNotFound()
    await _audit(request).record(request[STAFF], "resident_link.revoke", "resident_links", done["_id"],
                                 {"status": "confirmed"}, {"status": "revoked"},
                                 community=done.get("community"), resident_id=done.get("elder_id"))
    raise web.HTTPFound(f"{PREFIX}/bookings/links")
