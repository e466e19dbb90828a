"""The console map and the street screen: scoped JSON (tickets by status, stations by kind
and open now, the communities' outlines from the shipped GeoJSON), no free text in the
points, the tile URL setting and its Content-Security-Policy, street admins only on the screen."""
from __future__ import annotations

import json

import pytest_asyncio

from bot import keys
from bot.console.mapdata import DEFAULT_GEOJSON
from bot.console.maps import page_csp, tile_origin
from services.report_rules import NewReport, Reporter
from services.station_import import seed_demo_stations
from storage.residents import ResidentRepository
from storage.seed import COMMUNITIES
from tests.api_helpers import console_login, fast_argon2, make_staff, seed_places  # noqa: F401

A, B = "huafu-tianmian", "huafu-xintian"
SPOTS = {A: (22.5420, 114.0798), B: (22.5495, 114.0820)}


async def make_world(make_client, db):
    await seed_places(db)
    await seed_demo_stations(db)
    await make_staff(db, "grid-a", "grid_worker", A)
    await make_staff(db, "street", "street_admin", street="huafu")
    await make_staff(db, "root", "sysadmin")
    client = await make_client()
    service = client.app[keys.REPORTS]
    residents = ResidentRepository(db)
    for i, community in enumerate([A, A, B]):
        person = await residents.for_user_key(f"rest:m{i}", community)
        lat, lng = SPOTS[community]
        await service.create(Reporter(person.id, f"rest:m{i}", community), NewReport(
            category=("streetlight", "garbage", "road")[i], description=f"秘密描述{i} 13800001111",
            location_text=f"{i}栋3单元401", latitude=lat + i * 0.0004, longitude=lng, source="chat"))
    # One without coordinates: counted, not drawn.
    person = await residents.for_user_key("rest:nowhere", A)
    await service.create(Reporter(person.id, "rest:nowhere", A), NewReport(
        category="noise", description="没有坐标", location_text="某处", source="chat"))
    return client


@pytest_asyncio.fixture
async def world(make_client, db):
    await make_world(make_client, db)
    return make_client


async def logged_in(make_client, username: str, **settings):
    client = await make_client(**settings)
    await console_login(client, username)
    return client


def test_the_shipped_geojson_outlines_every_demo_community_and_holds_its_stations():
    doc = json.loads(DEFAULT_GEOJSON.read_text(encoding="utf-8"))
    codes = {f["properties"]["id"] for f in doc["features"]}
    assert codes == {code for code, _ in COMMUNITIES}
    for feature in doc["features"]:
        ring = feature["geometry"]["coordinates"][0]
        assert feature["geometry"]["type"] == "Polygon" and ring[0] == ring[-1] and len(ring) >= 4
        assert all(113.9 < lng < 114.2 and 22.4 < lat < 22.7 for lng, lat in ring)


async def test_the_map_shows_a_grid_worker_their_community_only(world):
    client = await logged_in(world, "grid-a")
    page = await client.get("/console/map")
    assert page.status == 200
    text = await page.text()
    assert 'id="map"' in text and "/static/vendor/echarts/echarts.min.js" in text
    assert "img-src 'self' data:" in page.headers["Content-Security-Policy"]
    data = await (await client.get("/console/map.json")).json()
    assert [f["properties"]["id"] for f in data["outlines"]["features"]] == [A]
    assert data["outlines"]["features"][0]["properties"]["name"] == "田面社区"
    assert len(data["tickets"]) == 2 and {t["community"] for t in data["tickets"]} == {"田面社区"}
    ticket = data["tickets"][0]
    assert ticket["url"] == f"/console/reports/{ticket['id']}" and ticket["label"] == "已派单"
    assert ticket["value"][0] == 114.0798
    raw = json.dumps(data, ensure_ascii=False)
    assert "秘密描述" not in raw and "13800001111" not in raw and "3单元401" not in raw  # no free text
    assert data["unlocated_open"] == 1
    assert data["stations"] and {s["community"] for s in data["stations"]} == {"田面社区"}
    assert {s["kind"] for s in data["stations"]} == {"centre", "energy"}
    assert all(isinstance(s["open"], bool) and s["url"].startswith("/console/stations/") for s in data["stations"])
    assert data["tile_url"] is None
    # The record a point opens is reachable for this worker.
    assert (await client.get(ticket["url"])).status == 200
    assert (await client.get(data["stations"][0]["url"])).status == 200


async def test_a_street_admin_sees_the_street_and_the_screen(world):
    client = await logged_in(world, "street")
    data = await (await client.get("/console/map.json")).json()
    assert len(data["outlines"]["features"]) == 8 and len(data["tickets"]) == 3
    page = await client.get("/console/screen")
    assert page.status == 200
    text = await page.text()
    assert "华富街道" in text and 'data-src="/console/screen.json"' in text and "/static/console-screen.js" in text
    screen = await (await client.get("/console/screen.json")).json()
    assert screen["totals"] == {"open": 4, "overdue": 0, "today": 4}
    per = {c["id"]: c for c in screen["communities"]}
    assert len(per) == 8 and per[A]["open"] == 3 and per[B]["today"] == 1
    assert len(screen["today_reports"]) == 4 and screen["today_reports"][0]["url"].startswith("/console/reports/R")
    assert sum(screen["trend_tickets"]["new"]) == 4 and len(screen["trend_tickets"]["days"]) == 30
    assert len(screen["trend_points"]["days"]) == len(screen["trend_points"]["earned"])
    assert len(screen["map"]["tickets"]) == 3
    assert "秘密描述" not in json.dumps(screen, ensure_ascii=False)


async def test_the_screen_is_for_street_admins_and_sysadmins(world):
    grid = await logged_in(world, "grid-a")
    assert (await grid.get("/console/screen")).status == 403
    assert (await grid.get("/console/screen.json")).status == 403
    assert "/console/screen" not in await (await grid.get("/console/")).text()
    root = await logged_in(world, "root")
    screen = await (await root.get("/console/screen.json")).json()
    assert len(screen["communities"]) == 9  # every street's communities
    anonymous = await world()
    resp = await anonymous.get("/console/map.json", allow_redirects=False)
    assert resp.status == 302 and "/console/login" in resp.headers["Location"]


async def test_a_tile_server_is_configured_by_url(world):
    url = "https://tiles.example.gov.cn/vec/{z}/{x}/{y}.png"
    assert tile_origin(url) == "https://tiles.example.gov.cn" and tile_origin(None) is None
    assert page_csp(None).endswith("img-src 'self' data:")
    client = await logged_in(world, "grid-a", map_tile_url=url)
    page = await client.get("/console/map")
    assert "img-src 'self' data: https://tiles.example.gov.cn" in page.headers["Content-Security-Policy"]
    assert "script-src" not in page.headers["Content-Security-Policy"]  # scripts stay 'self' (default-src)
    data = await (await client.get("/console/map.json")).json()
    assert data["tile_url"] == url
    # Not an http(s) URL or a path: ignored.
    client = await logged_in(world, "grid-a", map_tile_url="javascript:alert(1)//{z}")
    assert (await (await client.get("/console/map.json")).json())["tile_url"] is None
