"""Console: the map (地图) and the street screen (大屏).

GET /console/map            tickets by status and stations by kind (open now or not) on the
                            communities' outlines; clicking a point opens the record
GET /console/map.json       its data (?days=7|30|90: closed tickets of that period; open ones always)
GET /console/screen         the street screen for street admins (and sysadmins): full screen,
                            refreshes itself from /console/screen.json every minute
                            (?refresh=10..3600 seconds)
GET /console/screen.json    live counts per community, overdue, today's reports, the map, two trends

Everything is scoped like every console page (storage/scope.py). The base map needs no
internet: ECharts draws the shipped GeoJSON (bot/console/mapdata.py). With
LINLI_MAP_TILE_URL set, the page loads raster tiles from that server too (and its
Content-Security-Policy allows images from that origin only).
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web

from bot import keys
from bot.console.auth import CSP, PREFIX, staff_required
from bot.console.charts import ECHARTS_VERSION
from bot.console.common import community_names, scope_of
from bot.console.mapdata import DEFAULT_GEOJSON, map_data, screen_data
from storage.staff import STREET_ADMIN, SYSADMIN

routes = web.RouteTableDef()
NAV = [
    {"href": f"{PREFIX}/map", "title": "地图", "roles": ()},
    {"href": f"{PREFIX}/screen", "title": "大屏", "roles": (STREET_ADMIN, SYSADMIN)},
]
SCREEN_ROLES = (STREET_ADMIN, SYSADMIN)
MAP_DAYS = {"7": 7, "30": 30, "90": 90}
REFRESH_SECONDS = 60


def tile_origin(tile_url: str | None) -> str | None:
    """The origin images may come from for `tile_url` ('self' for a path on this server)."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return None


def page_csp(tile_url: str | None) -> str:
    origin = tile_origin(tile_url)
    return f"{CSP}; img-src 'self' data:{' ' + origin if origin else ''}"


def _geojson(request: web.Request) -> Path:
    configured = request.config_dict[keys.SETTINGS].map_geojson
    return Path(configured) if configured else DEFAULT_GEOJSON


def _tile_url(request: web.Request) -> str | None:
    url = request.config_dict[keys.SETTINGS].map_tile_url
    return url if url and (tile_origin(url) or url.startswith("/")) else None


def _clocks(request: web.Request):
    return request.config_dict[keys.REPORTS].clock(), request.config_dict[keys.STATIONS].now()


@routes.get(f"{PREFIX}/map")
@staff_required()
async def map_page(request: web.Request) -> web.StreamResponse:
    days = request.query.get("days", "30")
    days = days if days in MAP_DAYS else "30"
    response = aiohttp_jinja2.render_template("map.html", request, {
        "days": days, "periods": MAP_DAYS, "echarts_version": ECHARTS_VERSION,
        "tiles": bool(_tile_url(request)),
    })
    response.headers["Content-Security-Policy"] = page_csp(_tile_url(request))
    return response


@routes.get(f"{PREFIX}/map.json")
@staff_required()
async def map_json(request: web.Request) -> web.StreamResponse:
    days = MAP_DAYS.get(request.query.get("days", "30"), 30)
    now, station_now = _clocks(request)
    data = await map_data(request.config_dict[keys.DASHBOARDS], await community_names(request),
                          await scope_of(request), now, station_now, days=days,
                          geojson=_geojson(request), tile_url=_tile_url(request))
    return web.json_response(data, headers={"Cache-Control": "no-store"})


@routes.get(f"{PREFIX}/screen")
@staff_required(*SCREEN_ROLES)
async def screen_page(request: web.Request) -> web.StreamResponse:
    refresh = request.query.get("refresh", "")
    refresh = int(refresh) if refresh.isdigit() and 10 <= int(refresh) <= 3600 else REFRESH_SECONDS
    response = aiohttp_jinja2.render_template("screen.html", request, {
        "refresh": refresh, "echarts_version": ECHARTS_VERSION,
    })
    response.headers["Content-Security-Policy"] = page_csp(_tile_url(request))
    return response


@routes.get(f"{PREFIX}/screen.json")
@staff_required(*SCREEN_ROLES)
async def screen_json(request: web.Request) -> web.StreamResponse:
    now, station_now = _clocks(request)
    data = await screen_data(request.config_dict[keys.DASHBOARDS], await community_names(request),
                             await scope_of(request), now, station_now,
                             geojson=_geojson(request), tile_url=_tile_url(request))
    return web.json_response(data, headers={"Cache-Control": "no-store"})
