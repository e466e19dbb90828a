"""Stations for the mini-program: nearest open 爱心驿站 / 能量栈, one station, and the
courier registration (快递外卖小哥登记) that earns service points for valid reports.

GET    /api/v1/stations?lat=&lng=[&amenity=charging,water][&kind=][&open_now=][&radius=][&limit=]
GET    /api/v1/stations/{id}[?lat=&lng=]
GET    /api/v1/couriers/me      PUT /api/v1/couriers/me {"company"}      DELETE /api/v1/couriers/me
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import current_resident, public
from bot.api.models.base import invalid, read_body
from bot.api.models.stations import (
    Courier, CourierRequest, CourierStatus, NearbyQuery, NearbyStations, NotCourier, Station, StationDetail,
    StationHit, StationQuery,
)
from bot.api.spec import NOT_FOUND, operations
from bot.errors import ApiError
from services.opening_hours import is_open
from services.stations import StationService

routes = web.RouteTableDef()
op = operations("stations")


def _service(request: web.Request) -> StationService:
    return request.config_dict[keys.STATIONS]


@routes.get(f"{PREFIX}/stations")
@op("nearbyStations", "附近的爱心驿站、能量栈（默认：现在开着的，最近的 3 个）", query=NearbyQuery,
    answers={200: (NearbyStations, "由近到远；没有结果时 reason 说明原因")})
@public
async def nearby(request: web.Request) -> web.Response:
    query = NearbyQuery.parse_request(request)
    service = _service(request)
    found = await service.nearby(query.lat, query.lng, amenities=query.amenities, kind=query.kind,
                                 open_now=query.open_now, radius_m=query.radius, limit=query.limit)
    return json_response(NearbyStations(
        stations=[StationHit.of_hit(hit) for hit in found.hits],
        reason=found.reason,
        closed_nearest=StationHit.of_hit(found.closed_nearest) if found.closed_nearest else None,
        radius_m=found.radius_m,
        at=service.now(),
    ))


@routes.get(f"{PREFIX}/stations/{{station_id}}")
@op("getStation", "一个驿站的详情（带 lat/lng 时含距离和步行提示）", query=StationQuery,
    answers={200: (StationDetail, "驿站"), 404: NOT_FOUND})
@public
async def station(request: web.Request) -> web.Response:
    station_id = request.match_info["station_id"]
    query = StationQuery.parse_request(request)
    if (query.lat is None) != (query.lng is None):
        raise invalid("lat", "lat 和 lng 要一起填写", "lat and lng go together")
    service = _service(request)
    found = await service.station(station_id) if len(station_id) <= 64 else None
    if found is None or not found.active:
        raise ApiError(404, "station_not_found", "找不到这个驿站", "no such station")
    if query.lat is not None and query.lng is not None:
        return json_response(StationHit.of_hit(service.hit(found, query.lat, query.lng, service.now())))
    return json_response(Station.of(found, open_now=is_open(found.open_week, service.now())))


def _courier(doc: dict[str, Any] | None) -> Courier | NotCourier:
    if doc is None or not doc.get("active", True):
        return NotCourier(courier=False)
    return Courier(courier=True, company=doc.get("company") or "", since=doc.get("since"))


@routes.get(f"{PREFIX}/couriers/me")
@op("getCourier", "我是否登记为快递外卖小哥", answers={200: (CourierStatus, "登记情况")})
async def courier_get(request: web.Request) -> web.Response:
    resident = current_resident(request)
    return json_response(_courier(await _service(request).courier(resident.id)))


@routes.put(f"{PREFIX}/couriers/me")
@op("registerCourier", "登记为快递外卖小哥（报事核实后得服务积分）", body=CourierRequest,
    answers={200: (CourierStatus, "登记情况")})
async def courier_put(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_body(request, CourierRequest)
    doc = await _service(request).register_courier(resident.id, resident.community, body.company)
    return json_response(_courier(doc))


@routes.delete(f"{PREFIX}/couriers/me")
@op("unregisterCourier", "取消快递外卖小哥登记", answers={204: {"description": "已取消登记"}})
async def courier_delete(request: web.Request) -> web.Response:
    await _service(request).unregister_courier(current_resident(request).id)
    return web.Response(status=204)
