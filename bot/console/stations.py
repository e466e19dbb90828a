"""Console: stations (驿站 / 能量栈) of the staff member's scope.

Everyone sees the list (open now or not, at the server's clock); community admins and
up add and edit stations and their opening hours per weekday, switch them off and on,
and import a CSV (the same checks as scripts/import_stations.py, rows outside their
scope refused). Every change is audited.
"""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.common import communities_in_scope, scope_of
from services.opening_hours import DAY_NAMES, DAYS, day_hours_text, format_hours, is_open
from services.station_import import build_station, read_csv
from services.stations import StationService
from storage.stations import AMENITIES, KINDS, Station
from storage.staff import ADMIN_ROLES

routes = web.RouteTableDef()
NAV = [{"href": f"{PREFIX}/stations", "title": "驿站", "roles": ()}]
AUDITED = ("name", "kind", "address", "location", "amenities", "hours", "phone", "community", "active", "note")


def _service(request: web.Request) -> StationService:
    return request.config_dict[keys.STATIONS]


def _snapshot(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    return {k: doc.get(k) for k in AUDITED} if doc else None


def _form_values(station: Station | None) -> dict[str, Any]:
    if station is None:
        return {"kind": "energy", "amenities": [], "active": True, **{f"hours_{d}": "" for d in DAYS}}
    return {
        "name": station.name, "kind": station.kind, "address": station.address, "latitude": station.latitude,
        "longitude": station.longitude, "amenities": station.amenities, "phone": station.phone,
        "community": station.community, "note": station.note, "active": station.active,
        **{f"hours_{d}": day_hours_text(station.hours, d) for d in DAYS},
    }


def _form_to_row(form: Any) -> dict[str, str]:
    """The form as a CSV row (so the console and the import check alike)."""
    def text(name: str, max_len: int = 120) -> str:
        return str(form.get(name, "")).strip()[:max_len]

    days = [f"{DAY_NAMES[d]} {text('hours_' + d, 80)}" for d in DAYS if text("hours_" + d, 80)]
    return {
        "name": text("name", 60), "kind": text("kind", 20), "address": text("address"),
        "latitude": text("latitude", 20), "longitude": text("longitude", 20),
        "amenities": "|".join(a for a in form.getall("amenities", []) if a in AMENITIES),
        "hours": "；".join(days), "phone": text("phone", 20), "community": text("community", 64),
        "note": text("note", 200), "active": "1" if form.get("active") else "0",
    }


def _values_of(form: Any) -> dict[str, Any]:
    values = {k: str(form.get(k, "")).strip() for k in ("name", "kind", "address", "latitude", "longitude", "phone",
                                                          "community", "note")}
    values.update(amenities=list(form.getall("amenities", [])), active=bool(form.get("active")),
                  **{f"hours_{d}": str(form.get(f"hours_{d}", "")).strip() for d in DAYS})
    return values


async def _edit_page(request: web.Request, station: Station | None, values: dict[str, Any],
                     error: str | None = None, status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template("stations/edit.html", request, {
        "station": station, "values": values, "error": error, "communities": await communities_in_scope(request),
        "kinds": KINDS, "amenities": AMENITIES, "days": [(d, DAY_NAMES[d]) for d in DAYS],
    }, status=status)


@routes.get(f"{PREFIX}/stations")
@staff_required()
async def stations_list(request: web.Request) -> web.StreamResponse:
    service = _service(request)
    scope = await scope_of(request)
    stations = await service.stations_in_scope(scope)
    now = service.now()
    names = dict(await communities_in_scope(request))
    rows = [{"s": s, "hours": format_hours(s.hours), "open": is_open(s.open_week, now)} for s in stations]
    return aiohttp_jinja2.render_template("stations/list.html", request, {
        "rows": rows, "communities": names, "can_edit": request[STAFF].role in ADMIN_ROLES, "result": None,
    })


@routes.get(f"{PREFIX}/stations/new")
@staff_required(*ADMIN_ROLES)
async def station_new(request: web.Request) -> web.StreamResponse:
    return await _edit_page(request, None, _form_values(None))


async def _build(request: web.Request, form: Any) -> dict[str, Any]:
    """The station document of a submitted form; ValueError with a Chinese message."""
    communities = dict(await communities_in_scope(request))
    return build_station(_form_to_row(form), {cid: cid for cid in communities})


@routes.post(f"{PREFIX}/stations/new")
@staff_required(*ADMIN_ROLES)
async def station_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    service = _service(request)
    try:
        doc = await _build(request, form)
        if await service.station_id_for(doc["community"], doc["name"]) or await service.station_doc(doc["_id"]):
            raise ValueError("本社区已有同名站点")
    except ValueError as exc:
        return await _edit_page(request, None, _values_of(form), str(exc), status=400)
    scope = await scope_of(request)
    await service.add_station(doc, scope)
    await request.config_dict[keys.AUDIT].record(request[STAFF], "station.create", "stations", doc["_id"], None,
                                                  _snapshot(doc))
    raise web.HTTPFound(f"{PREFIX}/stations/{doc['_id']}")


async def _scoped_station(request: web.Request) -> tuple[Station, dict[str, Any], dict[str, Any]]:
    scope = await scope_of(request)
    doc = await _service(request).station_doc(request.match_info["station_id"][:64], scope)
    if doc is None:  # missing or outside the scope: the same answer
        raise web.HTTPNotFound()
    return Station.from_doc(doc), doc, scope


@routes.get(f"{PREFIX}/stations/{{station_id}}")
@staff_required()
async def station_detail(request: web.Request) -> web.StreamResponse:
    station, _, _ = await _scoped_station(request)
    if request[STAFF].role not in ADMIN_ROLES:
        now = _service(request).now()
        return aiohttp_jinja2.render_template("stations/view.html", request, {
            "s": station, "hours": format_hours(station.hours), "open": is_open(station.open_week, now),
            "communities": dict(await communities_in_scope(request)),
        })
    return await _edit_page(request, station, _form_values(station))


@routes.post(f"{PREFIX}/stations/{{station_id}}")
@staff_required(*ADMIN_ROLES)
async def station_update(request: web.Request) -> web.StreamResponse:
    station, before, scope = await _scoped_station(request)
    form = await request.post()
    service = _service(request)
    try:
        doc = await _build(request, form)
        other = await service.station_id_for(doc["community"], doc["name"])
        if other is not None and other != station.id:
            raise ValueError("本社区已有同名站点")
    except ValueError as exc:
        return await _edit_page(request, station, _values_of(form), str(exc), status=400)
    changes = {k: v for k, v in doc.items() if k not in ("_id", "demo")}
    after = await service.update_station(station.id, scope, changes)
    if after is None:
        raise web.HTTPNotFound()
    await request.config_dict[keys.AUDIT].record(request[STAFF], "station.update", "stations", station.id,
                                                  _snapshot(before), _snapshot(after))
    raise web.HTTPFound(f"{PREFIX}/stations/{station.id}")


@routes.post(f"{PREFIX}/stations-import")
@staff_required(*ADMIN_ROLES)
async def station_import(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload = form.get("file")
    scope = await scope_of(request)
    communities: dict[str, str] = {}
    for cid, name in await communities_in_scope(request):
        communities.update({cid: cid, name: cid, name.removesuffix("社区"): cid})
    error, result = None, None
    if upload is None or not hasattr(upload, "file"):
        error = "请选择要导入的 CSV 文件"
    else:
        try:
            rows = read_csv(upload.file.read())
        except ValueError as exc:
            error = f"无法导入：{exc}"
        else:
            result = await request.config_dict[keys.STATION_IMPORT].run(rows, communities, scope=scope)
            audit = request.config_dict[keys.AUDIT]
            for change in result.changes:  # one entry per station written, with the change
                await audit.record(request[STAFF], "station.import", "stations", change.id,
                                   _snapshot(change.before), _snapshot(change.after), ip=request.remote)
    service = _service(request)
    now = service.now()
    stations = await service.stations_in_scope(scope)
    rows_ = [{"s": s, "hours": format_hours(s.hours), "open": is_open(s.open_week, now)} for s in stations]
    return aiohttp_jinja2.render_template("stations/list.html", request, {
        "rows": rows_, "communities": dict(await communities_in_scope(request)), "can_edit": True,
        "result": result, "import_error": error,
    }, status=400 if error else 200)
