"""Data of the console map and the street screen (one JSON document each, scoped).

- Outlines: the communities' polygons from a GeoJSON file the project ships
  (storage/data/communities.geojson; `LINLI_MAP_GEOJSON` names another file), only those
  of communities in the staff member's scope. ECharts draws them (registerMap) on a plain
  base, no internet needed; `LINLI_MAP_TILE_URL` adds raster tiles from a map server.
- Tickets with coordinates, coloured by status: every open ticket and those created in the
  period. Only codes and names leave the server (ticket number, status, category,
  community), never the description, place text or the reporter.
- Stations by kind, open now or not (at the station service's clock).
- The street screen: live counts per community (open, overdue, today's reports), today's
  latest reports, two trends (new vs resolved tickets per day, points earned vs redeemed).
"""
from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

from bot.console.charts import china_days, points_per_day
from bot.console.common import to_china
from services.opening_hours import is_open
from storage.reports import OPEN_STATUSES, STATUS_LABELS, STATUSES
from storage.routing import CATEGORIES
from storage.dashboards import Dashboards
from storage.scope import in_scope
from storage.stations import KINDS, Station

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent.parent
DEFAULT_GEOJSON = ROOT / "storage" / "data" / "communities.geojson"
MAX_POINTS = 3000
TREND_DAYS = 30


@lru_cache(maxsize=4)
def _load_geojson(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        log.warning("community outlines %s unreadable: %r", path, exc)
        return {"type": "FeatureCollection", "features": []}
    features = [f for f in doc.get("features", []) if isinstance(f, dict) and isinstance(f.get("geometry"), dict)]
    return {"type": "FeatureCollection", "features": features}


def community_code(feature: dict[str, Any]) -> str | None:
    props = feature.get("properties") or {}
    return props.get("id") or feature.get("id")


def outlines(path: Path | str, scope: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    """The GeoJSON features of the communities in `scope`, named as the console names them
    (ECharts keys regions by `properties.name`)."""
    features = []
    for feature in _load_geojson(str(path))["features"]:
        code = community_code(feature)
        if code is None or not in_scope(scope, code):
            continue
        props = dict(feature.get("properties") or {})
        props.update(id=code, name=names.get(code, props.get("name") or code))
        features.append({"type": "Feature", "id": code, "properties": props, "geometry": feature["geometry"]})
    return {"type": "FeatureCollection", "features": features}


def _lnglat(doc: dict[str, Any]) -> list[float] | None:
    loc = doc.get("location")
    if not isinstance(loc, dict):
        return None
    coords = loc.get("coordinates")
    if not isinstance(coords, (list, tuple)) or len(coords) != 2:
        return None
    try:
        return [round(float(coords[0]), 6), round(float(coords[1]), 6)]
    except (TypeError, ValueError):
        return None


BOUNDS = "_bounds"


def _coords(geometry: dict[str, Any]) -> list[list[float]]:
    """Every [lng, lat] of a Polygon or MultiPolygon."""
    rings = geometry.get("coordinates") or []
    if geometry.get("type") == "MultiPolygon":
        rings = [ring for polygon in rings for ring in polygon]
    return [list(p[:2]) for ring in rings for p in ring if isinstance(p, (list, tuple)) and len(p) >= 2]


def _add_bounds(shapes: dict[str, Any], points: list[list[float]]) -> None:
    """An invisible rectangle (region `_bounds`) when points lie beyond the outlines, so the
    map's view holds every point."""
    outline = [p for f in shapes["features"] for p in _coords(f["geometry"])]
    if not points:
        return
    def box(ps: list[list[float]]) -> tuple[float, float, float, float]:
        return min(p[0] for p in ps), min(p[1] for p in ps), max(p[0] for p in ps), max(p[1] for p in ps)
    if outline:
        ox0, oy0, ox1, oy1 = box(outline)
        if all(ox0 <= p[0] <= ox1 and oy0 <= p[1] <= oy1 for p in points):
            return
    x0, y0, x1, y1 = box(points + outline)
    pad = max(x1 - x0, y1 - y0, 0.004) * 0.05
    x0, y0, x1, y1 = x0 - pad, y0 - pad, x1 + pad, y1 + pad
    shapes["features"].append({"type": "Feature", "id": BOUNDS, "properties": {"id": BOUNDS, "name": BOUNDS},
                               "geometry": {"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1],
                                                                                 [x0, y1], [x0, y0]]]}})


async def map_data(views: Dashboards, names: dict[str, str], scope: dict[str, Any], now: datetime,
                   station_now: datetime, *, days: int = 30, geojson: Path | str = DEFAULT_GEOJSON,
                   tile_url: str | None = None) -> dict[str, Any]:
    """`names`: community id -> name."""
    since = now - timedelta(days=days)
    docs = await views.located_reports(scope, since, MAX_POINTS)
    tickets = []
    for d in docs:
        value = _lnglat(d)
        if value is None:
            continue
        tickets.append({
            "id": d["_id"], "status": d.get("status"), "label": STATUS_LABELS.get(d.get("status"), d.get("status")),
            "category": CATEGORIES.get(d.get("category"), d.get("category") or ""),
            "community": names.get(d.get("community"), d.get("community") or ""),
            "overdue": bool(d.get("overdue")), "value": value,
            "created": to_china(d["created_at"]).strftime("%m-%d %H:%M") if d.get("created_at") else "",
            "url": f"/console/reports/{d['_id']}",
        })
    unlocated = await views.unlocated_open(scope)
    stations = []
    for doc in await views.active_stations(scope, MAX_POINTS):
        try:
            s = Station.from_doc(doc)
        except (KeyError, TypeError, ValueError):
            continue
        stations.append({
            "id": s.id, "name": s.name, "kind": s.kind, "kind_name": s.kind_name,
            "open": is_open(s.open_week, station_now), "value": [round(s.longitude, 6), round(s.latitude, 6)],
            "community": names.get(s.community, s.community), "url": f"/console/stations/{s.id}",
        })
    shapes = outlines(geojson, scope, names)
    if not shapes["features"] and not tickets and not stations:
        shapes = outlines(geojson, {}, names)  # nothing to show: the whole area of the file
    _add_bounds(shapes, [t["value"] for t in tickets] + [s["value"] for s in stations])
    return {
        "outlines": shapes,
        "tickets": tickets,
        "statuses": [[code, STATUS_LABELS.get(code, code)] for code in STATUSES],
        "stations": stations,
        "kinds": [[code, name] for code, name in KINDS.items()],
        "unlocated_open": unlocated,
        "days": days,
        "tile_url": tile_url or None,
    }


async def screen_data(views: Dashboards, names: dict[str, str], scope: dict[str, Any], now: datetime,
                      station_now: datetime, *, geojson: Path | str = DEFAULT_GEOJSON,
                      tile_url: str | None = None) -> dict[str, Any]:
    """The street screen: counts per community, today's reports, the map, two trends."""
    local = to_china(now)
    today = local.replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=TREND_DAYS - 1)
    reports = await views.reports_for_screen(scope, since)
    open_, overdue, today_n = Counter(), Counter(), Counter()
    new_per_day, resolved_per_day = Counter(), Counter()
    latest = []
    for r in reports:
        community = r.get("community")
        created = r.get("created_at")
        if r.get("status") in OPEN_STATUSES:
            open_[community] += 1
            if r.get("overdue"):
                overdue[community] += 1
        if created is not None and created >= since:
            new_per_day[to_china(created).date().isoformat()] += 1
            if created >= today:
                today_n[community] += 1
                latest.append(r)
        if r.get("resolved_at") is not None and r["resolved_at"] >= since:
            resolved_per_day[to_china(r["resolved_at"]).date().isoformat()] += 1
    latest.sort(key=lambda r: r["created_at"], reverse=True)
    communities = [{"id": code, "name": name, "open": open_[code], "overdue": overdue[code], "today": today_n[code]}
                   for code, name in names.items() if in_scope(scope, code)]
    days = china_days(since, now)
    points = await points_per_day(views, scope, since, now)
    return {
        "at": local.strftime("%Y-%m-%d %H:%M:%S"),
        "totals": {"open": sum(c["open"] for c in communities), "overdue": sum(c["overdue"] for c in communities),
                   "today": sum(c["today"] for c in communities)},
        "communities": communities,
        "today_reports": [{
            "id": r["_id"], "time": to_china(r["created_at"]).strftime("%H:%M"),
            "category": CATEGORIES.get(r.get("category"), r.get("category") or ""),
            "community": names.get(r.get("community"), r.get("community") or ""),
            "status": STATUS_LABELS.get(r.get("status"), r.get("status")),
            "url": f"/console/reports/{r['_id']}",
        } for r in latest[:12]],
        "trend_tickets": {"days": days, "new": [new_per_day.get(d, 0) for d in days],
                          "resolved": [resolved_per_day.get(d, 0) for d in days]},
        "trend_points": points,
        "map": await map_data(views, names, scope, now, station_now, days=1, geojson=geojson, tile_url=tile_url),
    }
