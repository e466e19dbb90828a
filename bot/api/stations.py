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
from bot.api.validation import get_field, invalid, read_object, reject_unknown
from bot.errors import ApiError
from services.stations import DEFAULT_RADIUS_M, MAX_RADIUS_M, StationService, station_dict
from storage.stations import AMENITIES, KINDS

routes = web.RouteTableDef()
QUERY_FIELDS = {"lat", "lng", "amenity", "kind", "open_now", "radius", "limit"}
MAX_LIMIT = 20


def _service(request: web.Request) -> StationService:
    return request.config_dict[keys.STATIONS]


def _single(request: web.Request, name: str) -> str | None:
    values = request.query.getall(name, [])
    if len(values) > 1:
        raise invalid(name, "只能出现一次", "given more than once")
    return values[0].strip() if values else None


def _number(request: web.Request, name: str, low: float, high: float, *, required: bool = False,
            default: float | None = None, integer: bool = False) -> float | None:
    raw = _single(request, name)
    if raw in (None, ""):
        if required:
            raise invalid(name, "必须填写", "is required")
        return default
    try:
        value = int(raw) if integer else float(raw)
    except ValueError:
        if integer:
            raise invalid(name, "必须是整数", "must be an integer") from None
        raise invalid(name, "必须是数字", "must be a number") from None
    if not (low <= value <= high):
        raise invalid(name, f"必须在{low:g}到{high:g}之间", f"must be between {low:g} and {high:g}")
    return value


def _flag(request: web.Request, name: str, default: bool) -> bool:
    raw = _single(request, name)
    if raw in (None, ""):
        return default
    if raw.lower() in ("1", "true", "yes"):
        return True
    if raw.lower() in ("0", "false", "no"):
        return False
    raise invalid(name, "必须是 true 或 false", "must be true or false")


@routes.get(f"{PREFIX}/stations")
@public
async def nearby(request: web.Request) -> web.Response:
    unknown = sorted(set(request.query) - QUERY_FIELDS)
    if unknown:
        raise ApiError(400, "invalid_query", f"不支持的参数：{', '.join(unknown)}", f"unknown parameters: {', '.join(unknown)}")
    lat = _number(request, "lat", -90, 90, required=True)
    lng = _number(request, "lng", -180, 180, required=True)
    amenities = [a for a in (_single(request, "amenity") or "").split(",") if a.strip()]
    bad = [a for a in amenities if a.strip() not in AMENITIES]
    if bad:
        raise invalid("amenity", f"只能是 {', '.join(AMENITIES)}", f"unknown amenity {bad[0][:20]!r}")
    kind = _single(request, "kind") or None
    if kind is not None and kind not in KINDS:
        raise invalid("kind", "只能是 centre 或 energy", "must be centre or energy")
    service = _service(request)
    found = await service.nearby(
        lat, lng, amenities=[a.strip() for a in amenities], kind=kind,
        open_now=_flag(request, "open_now", True),
        radius_m=int(_number(request, "radius", 50, MAX_RADIUS_M, default=DEFAULT_RADIUS_M, integer=True)),
        limit=int(_number(request, "limit", 1, MAX_LIMIT, default=3, integer=True)),
    )
    return json_response({
        "stations": [hit.as_dict() for hit in found.hits],
        "reason": found.reason,
        "closed_nearest": found.closed_nearest.as_dict() if found.closed_nearest else None,
        "radius_m": found.radius_m,
        "at": service.now(),
    })


@routes.get(f"{PREFIX}/stations/{{station_id}}")
@public
async def station(request: web.Request) -> web.Response:
    station_id = request.match_info["station_id"]
    lat = _number(request, "lat", -90, 90)
    lng = _number(request, "lng", -180, 180)
    if (lat is None) != (lng is None):
        raise invalid("lat", "lat 和 lng 要一起填写", "lat and lng go together")
    service = _service(request)
    found = await service.station(station_id) if len(station_id) <= 64 else None
    if found is None or not found.active:
        raise ApiError(404, "station_not_found", "找不到这个驿站", "no such station")
    if lat is not None:
        return json_response(service.hit(found, lat, lng, service.now()).as_dict())
    from services.opening_hours import is_open

    return json_response({**station_dict(found), "open_now": is_open(found.open_week, service.now())})


async def _courier_body(request: web.Request, doc: dict[str, Any] | None) -> dict[str, Any]:
    if doc is None or not doc.get("active", True):
        return {"courier": False}
    return {"courier": True, "company": doc.get("company") or "", "since": doc.get("since")}


@routes.get(f"{PREFIX}/couriers/me")
async def courier_get(request: web.Request) -> web.Response:
    resident = current_resident(request)
    return json_response(await _courier_body(request, await _service(request).courier(resident.id)))


@routes.put(f"{PREFIX}/couriers/me")
async def courier_put(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_object(request)
    reject_unknown(body, {"company"})
    company = get_field(body, "company", str, required=False, max_len=20, default="")
    doc = await _service(request).register_courier(resident.id, resident.community, company)
    return json_response(await _courier_body(request, doc))


@routes.delete(f"{PREFIX}/couriers/me")
async def courier_delete(request: web.Request) -> web.Response:
    await _service(request).unregister_courier(current_resident(request).id)
    return web.Response(status=204)


_HIT_SCHEMA = {"$ref": "#/components/schemas/StationHit"}
_ERRORS = {
    "400": {"$ref": "#/components/responses/BadRequest"},
    "429": {"$ref": "#/components/responses/RateLimited"},
}


def _query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


OPENAPI: dict[str, Any] = {
    f"{PREFIX}/stations": {
        "get": {
            "tags": ["stations"],
            "summary": "附近的爱心驿站、能量栈（默认：现在开着的，最近的 3 个）",
            "operationId": "nearbyStations",
            "security": [],
            "parameters": [
                _query("lat", {"type": "number", "minimum": -90, "maximum": 90}, "纬度（GCJ-02/WGS84）", True),
                _query("lng", {"type": "number", "minimum": -180, "maximum": 180}, "经度", True),
                _query("amenity", {"type": "string", "example": "charging,water"},
                       f"需要的设施，逗号分隔，都要有：{', '.join(f'{k}={v}' for k, v in AMENITIES.items())}"),
                _query("kind", {"type": "string", "enum": list(KINDS)}, "centre=党群服务中心，energy=能量栈"),
                _query("open_now", {"type": "boolean", "default": True}, "只要现在开着的"),
                _query("radius", {"type": "integer", "minimum": 50, "maximum": MAX_RADIUS_M, "default": DEFAULT_RADIUS_M},
                       "搜索半径（米）"),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 3}, "最多几个"),
            ],
            "responses": {
                "200": {
                    "description": "由近到远；没有结果时 reason 说明原因",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {
                            "stations": {"type": "array", "items": _HIT_SCHEMA},
                            "reason": {"type": "string", "nullable": True,
                                       "enum": ["none_open", "none_with_amenity", None],
                                       "description": "none_open：范围内有但现在都关着；none_with_amenity：范围内没有"},
                            "closed_nearest": {**_HIT_SCHEMA, "nullable": True,
                                               "description": "none_open 时：最近的那个，及何时开门"},
                            "radius_m": {"type": "integer"},
                            "at": {"type": "string", "format": "date-time"},
                        },
                    }}},
                },
                **_ERRORS,
            },
        }
    },
    f"{PREFIX}/stations/{{station_id}}": {
        "get": {
            "tags": ["stations"],
            "summary": "一个驿站的详情（带 lat/lng 时含距离和步行提示）",
            "operationId": "getStation",
            "security": [],
            "parameters": [
                {"name": "station_id", "in": "path", "required": True, "schema": {"type": "string"}},
                _query("lat", {"type": "number"}, "纬度（可选）"),
                _query("lng", {"type": "number"}, "经度（可选）"),
            ],
            "responses": {
                "200": {"description": "驿站", "content": {"application/json": {"schema": _HIT_SCHEMA}}},
                "404": {"$ref": "#/components/responses/NotFound"},
                **_ERRORS,
            },
        }
    },
    f"{PREFIX}/couriers/me": {
        op: {
            "tags": ["stations"],
            "summary": summary,
            "operationId": op_id,
            **({"requestBody": {"required": False, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"company": {"type": "string", "maxLength": 20, "example": "顺丰"}},
            }}}}} if op == "put" else {}),
            "responses": {
                **({"204": {"description": "已取消登记"}} if op == "delete" else {
                    "200": {"description": "登记情况", "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"courier": {"type": "boolean"}, "company": {"type": "string"},
                                       "since": {"type": "string", "format": "date-time"}},
                    }}}},
                }),
                "401": {"$ref": "#/components/responses/Unauthorized"},
                **({"400": _ERRORS["400"]} if op == "put" else {}),
                "429": _ERRORS["429"],
            },
        }
        for op, summary, op_id in [
            ("get", "我是否登记为快递外卖小哥", "getCourier"),
            ("put", "登记为快递外卖小哥（报事核实后得服务积分）", "registerCourier"),
            ("delete", "取消快递外卖小哥登记", "unregisterCourier"),
        ]
    },
}

OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Station": {
            "type": "object",
            "properties": {
                "id": {"type": "string"}, "name": {"type": "string", "example": "华富社区党群服务中心"},
                "kind": {"type": "string", "enum": list(KINDS)}, "kind_name": {"type": "string"},
                "address": {"type": "string"},
                "location": {"type": "object", "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}}},
                "amenities": {"type": "array", "items": {"type": "string", "enum": list(AMENITIES)}},
                "amenity_names": {"type": "array", "items": {"type": "string"}},
                "hours": {"type": "object", "description": "周一 mon … 周日 sun：[[\"09:00\", \"18:00\"], …]（北京时间）",
                          "additionalProperties": {"type": "array",
                                                   "items": {"type": "array", "items": {"type": "string"}}}},
                "hours_text": {"type": "string", "example": "周一至周五 09:00-12:00、14:00-18:00"},
                "phone": {"type": "string"}, "community": {"type": "string"}, "note": {"type": "string"},
                "demo": {"type": "boolean", "description": "演示数据"},
                "open_now": {"type": "boolean"},
            },
        },
        "StationHit": {
            "allOf": [
                {"$ref": "#/components/schemas/Station"},
                {"type": "object", "properties": {
                    "distance_m": {"type": "integer"}, "walk_minutes": {"type": "integer"},
                    "direction": {"type": "string", "example": "东北"},
                    "walk_hint": {"type": "string", "example": "往东北走约5分钟"},
                    "status_text": {"type": "string", "example": "开到今天18:00"},
                }},
            ]
        },
    }
}
