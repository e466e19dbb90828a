"""Mini-program API for bookings (预约).

GET  /api/v1/services                        services of the resident's community (+ may I book?)
GET  /api/v1/services/{code}/slots           bookable slots with free places (?date=, ?days=, ?for=)
POST /api/v1/bookings                        book {slot_id, for_resident_id?, waitlist?, pickup_date?}
GET  /api/v1/bookings                        my bookings, open waitlist offers and queue places
POST /api/v1/bookings/{id}/cancel            cancel {reason?} (before the service's cutoff)
POST /api/v1/waitlist/{id}/accept            take an offered place
POST /api/v1/waitlist/{id}/decline           give up an offer or leave the queue
GET  /api/v1/resident-links                  my family / volunteer links (as helper or elder)
POST /api/v1/resident-links                  ask to book for an elder {relation, label?} -> code
POST /api/v1/resident-links/confirm          the elder enters the code {code}
DELETE /api/v1/resident-links/{id}           end a link (either side)
"""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import current_resident
from bot.api.bookings_openapi import RELATIONS, OPENAPI, OPENAPI_COMPONENTS  # noqa: F401  (this module's document)
from bot.api.validation import get_field, invalid, read_object, reject_unknown
from bot.errors import ApiError
from bot.safe_input import parse_day
from domain.time import TZ
from services import eligibility
from services.booking_rules import BookingRefused, rules_of
from services.bookings import BookingService
from storage.booking_catalog import SERVICE_CODES
from storage.residents import Resident

routes = web.RouteTableDef()
_ID = re.compile(r"[0-9a-f]{24}")
_CODE = re.compile(r"\d{6}")


def _svc(request: web.Request) -> BookingService:
    return request.config_dict[keys.BOOKINGS]


def _path_id(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if not _ID.fullmatch(value):
        raise ApiError(404, "not_found", "没有找到这条记录", f"no such {name}")
    return value


def _local(dt: datetime | None) -> str | None:
    return dt.astimezone(TZ).isoformat() if dt else None


def service_json(service: dict[str, Any], verdict: eligibility.Verdict | None = None) -> dict[str, Any]:
    rules = rules_of(service)
    data = {
        "code": service["code"], "name": service["name"], "description": service.get("description"),
        "location": service.get("location"), "community": service["community"], "kind": service.get("kind", "session"),
        "for_whom": eligibility.describe(service.get("eligibility") or {}),
        "window_days": rules["window_days"], "min_notice_minutes": rules["min_notice_minutes"],
        "cancel_cutoff_minutes": rules["cancel_cutoff_minutes"],
    }
    if service.get("kind") == "rental":
        data["loan_days"] = service.get("loan_days", 30)
    if verdict is not None:
        data["eligible"] = verdict.ok
        data["ineligible_reason"] = None if verdict.ok else verdict.text
    return data


def slot_json(slot: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": slot["_id"], "service": slot["service"], "start": _local(slot.get("start")), "end": _local(slot.get("end")),
        "title": slot.get("title"), "unit": slot.get("unit"), "capacity": slot["capacity"],
        "free": max(0, slot["capacity"] - slot["booked"]), "status": slot.get("status"),
    }


def booking_json(booking: dict[str, Any], me: Resident) -> dict[str, Any]:
    return {
        "id": booking["_id"], "booking_no": booking["booking_no"], "service": booking["service"],
        "service_name": booking["service_name"], "title": booking.get("title"), "unit": booking.get("unit"),
        "location": booking.get("location"), "start": _local(booking["start"]), "end": _local(booking.get("end")),
        "status": booking["status"], "attendance": booking.get("attendance"),
        "for_resident_id": booking["resident_id"], "for_me": booking["resident_id"] == me.id,
        "cancel_reason": booking.get("cancel_reason"), "created_at": booking.get("created_at"),
    }


def entry_json(entry: dict[str, Any], position: int | None = None) -> dict[str, Any]:
    slot = entry.get("slot") or {}
    return {
        "id": entry["_id"], "service": entry["service"], "service_name": entry["service_name"],
        "slot_id": entry["slot_id"], "start": _local(slot.get("start")), "title": slot.get("title"),
        "status": entry["status"], "position": position if position is not None else entry.get("position"),
        "offer_expires_at": _local(entry.get("offer_expires_at")), "for_resident_id": entry["resident_id"],
    }


async def _beneficiary(request: web.Request, me: Resident, elder_id: str | None) -> Resident:
    """The resident a booking is for: me, or a confirmed linked elder."""
    if not elder_id or elder_id == me.id:
        return me
    if not _ID.fullmatch(elder_id) or not await _svc(request).is_linked(me.id, elder_id):
        raise ApiError(403, "not_linked", "您还没有和这位老人绑定，不能替他预约", "no confirmed link to this resident")
    elder = await _svc(request).resident(elder_id)
    if elder is None or elder.deleted_at is not None:
        raise ApiError(404, "not_found", "没有找到这位老人", "linked resident not found")
    return elder


# ---- services and slots ----------------------------------------------------------------

@routes.get(f"{PREFIX}/services")
async def list_services(request: web.Request) -> web.Response:
    me = current_resident(request)
    svc = _svc(request)
    who = await _beneficiary(request, me, request.query.get("for"))
    services = await svc.services_for(who.community)
    return json_response({"services": [service_json(s, svc.eligibility(s, who)) for s in services]})


@routes.get(f"{PREFIX}/services/{{code}}/slots")
async def list_slots(request: web.Request) -> web.Response:
    me = current_resident(request)
    svc = _svc(request)
    window = _date_window(request)  # bad input first: 400 before any lookup
    code = request.match_info["code"]
    if code not in SERVICE_CODES:
        raise ApiError(404, "not_found", "没有这项服务", "unknown service code")
    who = await _beneficiary(request, me, request.query.get("for"))
    service = await svc.service_by_code(who.community, code)
    if service is None:
        raise ApiError(404, "not_found", "您所在的社区没有这项服务", "service not offered in this community")
    slots = await svc.open_slots(service)
    if window is not None:
        start, end = window
        slots = [s for s in slots if s.get("start") is None or start <= s["start"] < end]
    body: dict[str, Any] = {"service": service_json(service, svc.eligibility(service, who)),
                            "slots": [slot_json(s) for s in slots]}
    if service.get("kind") == "rental":
        body["pickup_dates"] = [d.isoformat() for d in svc.pickup_days(service, count=14)]
    return json_response(body)


def _date_window(request: web.Request) -> tuple[datetime, datetime] | None:
    """?date=YYYY-MM-DD&days=N as a [start, end) span in Asia/Shanghai (None: no filter)."""
    day, days = request.query.get("date"), request.query.get("days")
    if days is not None and (not days.isdigit() or not 1 <= int(days) <= 31):
        raise invalid("days", "天数应在1到31之间", "days must be 1..31")
    if not day:
        return None
    try:
        first = parse_day(day)
    except ValueError:
        raise invalid("date", "日期格式应为 2026-01-31", "date must be YYYY-MM-DD between 2000 and 2100") from None
    start = datetime.combine(first, time(0), tzinfo=TZ)
    return start, start + timedelta(days=int(days or 1))


# ---- bookings ----------------------------------------------------------------------------

@routes.post(f"{PREFIX}/bookings")
async def create_booking(request: web.Request) -> web.Response:
    me = current_resident(request)
    body = await read_object(request)
    reject_unknown(body, {"slot_id", "for_resident_id", "waitlist", "pickup_date"})
    slot_id = get_field(body, "slot_id", str, max_len=24)
    if not _ID.fullmatch(slot_id):
        raise ApiError(404, "not_found", "没有找到这个时段", "no such slot")
    who = await _beneficiary(request, me, get_field(body, "for_resident_id", str, required=False, max_len=24))
    waitlist = get_field(body, "waitlist", bool, required=False, default=False)
    pickup_raw = get_field(body, "pickup_date", str, required=False, max_len=10)
    try:
        pickup = parse_day(pickup_raw) if pickup_raw else None
    except ValueError:
        raise invalid("pickup_date", "日期格式应为 2026-01-31", "pickup_date must be YYYY-MM-DD between 2000 and 2100") from None
    user_key = next((k for k in me.user_keys if k.startswith("mp:")), None)
    result = await _svc(request).book(slot_id, who, booker=me, user_key=user_key, channel="mp",
                                      join_waitlist=waitlist, pickup=pickup)
    if result.status == "waitlisted":
        return json_response({"status": "waitlisted", "waitlist": entry_json(result.entry, result.position)},
                             status=202)
    return json_response({"status": "booked", "booking": booking_json(result.booking, me)}, status=201)


@routes.get(f"{PREFIX}/bookings")
async def my_bookings(request: web.Request) -> web.Response:
    me = current_resident(request)
    mine = await _svc(request).mine(me)
    return json_response({
        "bookings": [booking_json(b, me) for b in mine["bookings"]],
        "offers": [entry_json(e) for e in mine["offers"]],
        "waiting": [entry_json(e) for e in mine["waiting"]],
    })


@routes.post(f"{PREFIX}/bookings/{{booking_id}}/cancel")
async def cancel_booking(request: web.Request) -> web.Response:
    me = current_resident(request)
    booking_id = _path_id(request, "booking_id")
    body = await read_object(request) if request.can_read_body else {}
    reject_unknown(body, {"reason"})
    reason = get_field(body, "reason", str, required=False, max_len=100)
    booking = await _svc(request).cancel(booking_id, actor=me, reason=reason)
    return json_response({"booking": booking_json(booking, me)})


@routes.post(f"{PREFIX}/waitlist/{{entry_id}}/accept")
async def accept_offer(request: web.Request) -> web.Response:
    me = current_resident(request)
    booking = await _svc(request).accept_offer(_path_id(request, "entry_id"), me)
    return json_response({"status": "booked", "booking": booking_json(booking, me)}, status=201)


@routes.post(f"{PREFIX}/waitlist/{{entry_id}}/decline")
async def decline_offer(request: web.Request) -> web.Response:
    me = current_resident(request)
    entry = await _svc(request).decline_offer(_path_id(request, "entry_id"), me)
    return json_response({"waitlist": entry_json(entry)})


# ---- resident links (proxy booking) ---------------------------------------------------------

def link_json(link: dict[str, Any], me: Resident, names: dict[str, str | None]) -> dict[str, Any]:
    as_helper = link["helper_id"] == me.id
    other = link.get("elder_id") if as_helper else link["helper_id"]
    data = {
        "id": link["_id"], "role": "helper" if as_helper else "elder", "relation": link["relation"],
        "label": link.get("label"), "status": link["status"], "other_resident_id": other,
        "other_name": names.get(other) if other else None, "created_at": link.get("created_at"),
    }
    if as_helper and link["status"] == "pending":
        data.update(code=link.get("code"), code_expires_at=_local(link.get("code_expires_at")))
    return data


async def _names(request: web.Request, links: list[dict[str, Any]]) -> dict[str, str | None]:
    svc = _svc(request)
    names: dict[str, str | None] = {}
    for link in links:
        for rid in (link.get("helper_id"), link.get("elder_id")):
            if rid and rid not in names:
                person = await svc.resident(rid)
                names[rid] = person.name if person else None
    return names


@routes.get(f"{PREFIX}/resident-links")
async def list_links(request: web.Request) -> web.Response:
    me = current_resident(request)
    links = await _svc(request).links_of(me.id)
    names = await _names(request, links)
    return json_response({"links": [link_json(link, me, names) for link in links]})


@routes.post(f"{PREFIX}/resident-links")
async def request_link(request: web.Request) -> web.Response:
    me = current_resident(request)
    body = await read_object(request)
    reject_unknown(body, {"relation", "label"})
    relation = get_field(body, "relation", str, choices=RELATIONS)
    label = get_field(body, "label", str, required=False, max_len=12)
    link = await _svc(request).request_link(me, relation, label)
    return json_response({"link": link_json(link, me, {})}, status=201)


@routes.post(f"{PREFIX}/resident-links/confirm")
async def confirm_link(request: web.Request) -> web.Response:
    me = current_resident(request)
    body = await read_object(request)
    reject_unknown(body, {"code"})
    code = get_field(body, "code", str, max_len=6)
    if not _CODE.fullmatch(code):
        raise invalid("code", "请填写6位数字验证码", "code must be 6 digits")
    guard = request.config_dict[keys.LINK_CODE_GUARD]
    wait = await guard.locked_for(me.id)
    if wait:
        raise ApiError(429, "too_many_tries", "验证码输错次数太多，请一小时后再试", "too many wrong link codes",
                       headers={"Retry-After": str(wait)})
    try:
        link = await _svc(request).confirm_link(me, code)
    except BookingRefused as exc:
        if exc.code == "bad_code":
            await guard.failed(me.id)
        raise
    await guard.succeeded(me.id)
    return json_response({"link": link_json(link, me, await _names(request, [link]))})


@routes.delete(f"{PREFIX}/resident-links/{{link_id}}")
async def revoke_link(request: web.Request) -> web.Response:
    me = current_resident(request)
    svc = _svc(request)
    side = {"$or": [{"helper_id": me.id}, {"elder_id": me.id}]}
    done = await svc.revoke_link(_path_id(request, "link_id"), side)
    if done is None:
        raise ApiError(404, "not_found", "没有找到这条绑定", "no such link")
    return web.Response(status=204)
