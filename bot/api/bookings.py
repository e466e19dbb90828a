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
from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import current_resident
from bot.api.models.base import read_body
from bot.json_body import read_json
from bot.api.models.bookings import (
    BookableService, BookableServices, Booked, Booking, BookingRequest, CancelBookingRequest,
    CancelledBooking, LeftWaitlist, MyBookings, RentalSlots, ResidentLink, ResidentLinkConfirm,
    ResidentLinkRequest, ResidentLinkResult, ResidentLinks, ServiceSlots, ServiceSlotsAnswer, ServicesQuery,
    Slot, SlotsQuery, WaitlistEntry, Waitlisted,
)
from bot.api.spec import FORBIDDEN, NOT_FOUND, TOO_LARGE, operations
from bot.errors import ApiError
from domain.time import TZ
from services.booking_rules import BookingRefused
from services.bookings import BookingService
from storage.booking_catalog import SERVICE_CODES
from storage.residents import Resident

routes = web.RouteTableDef()
op = operations("bookings")
_ID = re.compile(r"[0-9a-f]{24}")
_PATH_ID = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
REFUSED = ("不能办理（已约满 full、重复预约 duplicate、来不及 too_soon、超出可约范围 too_far、"
           "已停止预约 closed、已过取消时间 too_late、名额已过期 offer_gone ……），message 是给用户看的说明")


def _svc(request: web.Request) -> BookingService:
    return request.config_dict[keys.BOOKINGS]


def _path_id(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if not _ID.fullmatch(value):
        raise ApiError(404, "not_found", "没有找到这条记录", f"no such {name}")
    return value


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
@op("listServices", "本社区可预约的服务（含我能否预约）", query=ServicesQuery,
    answers={200: (BookableServices, "服务列表"), 400: None, 403: FORBIDDEN})
async def list_services(request: web.Request) -> web.Response:
    me = current_resident(request)
    query = ServicesQuery.parse_request(request)
    svc = _svc(request)
    who = await _beneficiary(request, me, query.for_)
    services = await svc.services_for(who.community)
    return json_response(BookableServices(
        services=[BookableService.of(s, svc.eligibility(s, who)) for s in services]))


@routes.get(f"{PREFIX}/services/{{code}}/slots")
@op("listSlots", "服务的可预约时段（含已满的，可排队候补）", query=SlotsQuery,
    path={"code": {"type": "string", "enum": list(SERVICE_CODES)}},
    answers={200: (ServiceSlotsAnswer, "时段"), 403: FORBIDDEN, 404: NOT_FOUND})
async def list_slots(request: web.Request) -> web.Response:
    me = current_resident(request)
    svc = _svc(request)
    query = SlotsQuery.parse_request(request)  # bad input first: 400 before any lookup
    code = request.match_info["code"]
    if code not in SERVICE_CODES:
        raise ApiError(404, "not_found", "没有这项服务", "unknown service code")
    who = await _beneficiary(request, me, query.for_)
    service = await svc.service_by_code(who.community, code)
    if service is None:
        raise ApiError(404, "not_found", "您所在的社区没有这项服务", "service not offered in this community")
    slots = await svc.open_slots(service)
    if query.date is not None:
        start = datetime.combine(query.date, time(0), tzinfo=TZ)
        end = start + timedelta(days=query.days or 1)
        slots = [s for s in slots if s.get("start") is None or start <= s["start"] < end]
    fields: dict[str, Any] = {"service": BookableService.of(service, svc.eligibility(service, who)),
                              "slots": [Slot.of(s) for s in slots]}
    if service.get("kind") == "rental":
        return json_response(RentalSlots(**fields, pickup_dates=svc.pickup_days(service, count=14)))
    return json_response(ServiceSlots(**fields))


# ---- bookings ----------------------------------------------------------------------------

@routes.post(f"{PREFIX}/bookings")
@op("book", "预约（约满时可排队候补）", body=BookingRequest,
    answers={201: (Booked, "预约成功"), 202: (Waitlisted, "已约满，已排队候补"), 403: FORBIDDEN, 404: NOT_FOUND,
             409: REFUSED, 413: TOO_LARGE})
async def create_booking(request: web.Request) -> web.Response:
    me = current_resident(request)
    body = await read_body(request, BookingRequest)
    if not _ID.fullmatch(body.slot_id):
        raise ApiError(404, "not_found", "没有找到这个时段", "no such slot")
    who = await _beneficiary(request, me, body.for_resident_id)
    user_key = next((k for k in me.user_keys if k.startswith("mp:")), None)
    result = await _svc(request).book(body.slot_id, who, booker=me, user_key=user_key, channel="mp",
                                      join_waitlist=body.waitlist, pickup=body.pickup_date)
    if result.status == "waitlisted":
        entry = WaitlistEntry.of(result.entry, result.position)
        return json_response(Waitlisted(status="waitlisted", waitlist=entry), status=202)
    return json_response(Booked(status="booked", booking=Booking.of(result.booking, me)), status=201)


@routes.get(f"{PREFIX}/bookings")
@op("myBookings", "我的预约、候补名额和排队", answers={200: (MyBookings, "我的预约")})
async def my_bookings(request: web.Request) -> web.Response:
    me = current_resident(request)
    mine = await _svc(request).mine(me)
    return json_response(MyBookings(
        bookings=[Booking.of(b, me) for b in mine["bookings"]],
        offers=[WaitlistEntry.of(e) for e in mine["offers"]],
        waiting=[WaitlistEntry.of(e) for e in mine["waiting"]],
    ))


@routes.post(f"{PREFIX}/bookings/{{booking_id}}/cancel")
@op("cancelBooking", "取消预约（须在取消截止时间前）", path={"booking_id": _PATH_ID},
    body=CancelBookingRequest, body_optional=True,
    answers={200: (CancelledBooking, "已取消"), 404: NOT_FOUND, 409: REFUSED, 413: TOO_LARGE})
async def cancel_booking(request: web.Request) -> web.Response:
    me = current_resident(request)
    booking_id = _path_id(request, "booking_id")
    body = (CancelBookingRequest.parse_body(await read_json(request)) if request.can_read_body
            else CancelBookingRequest())
    booking = await _svc(request).cancel(booking_id, actor=me, reason=body.reason)
    return json_response(CancelledBooking(booking=Booking.of(booking, me)))


@routes.post(f"{PREFIX}/waitlist/{{entry_id}}/accept")
@op("acceptOffer", "确认候补到的名额", path={"entry_id": _PATH_ID},
    answers={201: (Booked, "预约成功"), 404: NOT_FOUND, 409: REFUSED})
async def accept_offer(request: web.Request) -> web.Response:
    me = current_resident(request)
    booking = await _svc(request).accept_offer(_path_id(request, "entry_id"), me)
    return json_response(Booked(status="booked", booking=Booking.of(booking, me)), status=201)


@routes.post(f"{PREFIX}/waitlist/{{entry_id}}/decline")
@op("declineOffer", "放弃候补名额或退出排队", path={"entry_id": _PATH_ID},
    answers={200: (LeftWaitlist, "已放弃"), 404: NOT_FOUND, 409: REFUSED})
async def decline_offer(request: web.Request) -> web.Response:
    me = current_resident(request)
    entry = await _svc(request).decline_offer(_path_id(request, "entry_id"), me)
    return json_response(LeftWaitlist(waitlist=WaitlistEntry.of(entry)))


# ---- resident links (proxy booking) ---------------------------------------------------------

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
@op("listLinks", "我的家人/志愿者绑定", answers={200: (ResidentLinks, "绑定")})
async def list_links(request: web.Request) -> web.Response:
    me = current_resident(request)
    links = await _svc(request).links_of(me.id)
    names = await _names(request, links)
    return json_response(ResidentLinks(links=[ResidentLink.of(link, me, names) for link in links]))


@routes.post(f"{PREFIX}/resident-links")
@op("requestLink", "申请替老人预约：得到6位验证码，请老人输入确认", body=ResidentLinkRequest,
    answers={201: (ResidentLinkResult, "已生成验证码（24小时有效）"), 413: TOO_LARGE})
async def request_link(request: web.Request) -> web.Response:
    me = current_resident(request)
    body = await read_body(request, ResidentLinkRequest)
    link = await _svc(request).request_link(me, body.relation, body.label)
    return json_response(ResidentLinkResult(link=ResidentLink.of(link, me, {})), status=201)


@routes.post(f"{PREFIX}/resident-links/confirm")
@op("confirmLink", "老人输入家人给的验证码，确认绑定", body=ResidentLinkConfirm,
    answers={200: (ResidentLinkResult, "已绑定"), 413: TOO_LARGE})
async def confirm_link(request: web.Request) -> web.Response:
    me = current_resident(request)
    body = await read_body(request, ResidentLinkConfirm)
    guard = request.config_dict[keys.LINK_CODE_GUARD]
    wait = await guard.locked_for(me.id)
    if wait:
        raise ApiError(429, "too_many_tries", "验证码输错次数太多，请一小时后再试", "too many wrong link codes",
                       headers={"Retry-After": str(wait)})
    try:
        link = await _svc(request).confirm_link(me, body.code)
    except BookingRefused as exc:
        if exc.code == "bad_code":
            await guard.failed(me.id)
        raise
    await guard.succeeded(me.id)
    return json_response(ResidentLinkResult(link=ResidentLink.of(link, me, await _names(request, [link]))))


@routes.delete(f"{PREFIX}/resident-links/{{link_id}}")
@op("revokeLink", "解除绑定（双方都可以）", path={"link_id": _PATH_ID},
    answers={204: {"description": "已解除"}, 404: NOT_FOUND})
async def revoke_link(request: web.Request) -> web.Response:
    me = current_resident(request)
    svc = _svc(request)
    side = {"$or": [{"helper_id": me.id}, {"elder_id": me.id}]}
    done = await svc.revoke_link(_path_id(request, "link_id"), side)
    if done is None:
        raise ApiError(404, "not_found", "没有找到这条绑定", "no such link")
    return web.Response(status=204)
