"""Stations in the mini-program API and the staff console (real app, Redis, MongoDB)."""
from __future__ import annotations

import io
from datetime import datetime

import aiohttp
import pytest

from bot import keys
from services.opening_hours import TZ
from services.station_import import seed_demo_stations
from tests.api_helpers import (  # noqa: F401  (fixtures)
    api, bearer, console_login, csrf_of, fake_mp, fast_argon2, login, make_staff,
)

WED_10 = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
WED_0330 = datetime(2026, 11, 25, 3, 30, tzinfo=TZ)
HUAFU = {"lat": "22.5486", "lng": "114.0760"}


@pytest.fixture
async def stations_api(api, db):
    await seed_demo_stations(db)
    api.app[keys.STATIONS].clock = lambda: WED_10
    return api


async def get(client, path: str, **params):
    resp = await client.get(path, params=params)
    return resp.status, await resp.json()


async def test_nearby_stations_with_filters(stations_api):
    status, body = await get(stations_api, "/api/v1/stations", **HUAFU, amenity="charging")
    assert status == 200 and len(body["stations"]) == 3 and body["reason"] is None
    first = body["stations"][0]
    assert first["name"] == "华富社区党群服务中心" and first["open_now"] and first["walk_hint"] == "就在附近"
    assert first["status_text"] == "开到今天12:00" and first["hours_text"].startswith("周一至周五")
    distances = [s["distance_m"] for s in body["stations"]]
    assert distances == sorted(distances) and all("charging" in s["amenities"] for s in body["stations"])
    status, body = await get(stations_api, "/api/v1/stations", **HUAFU, amenity="water,raincoat", kind="energy", limit="10")
    assert status == 200 and body["stations"]
    assert all(s["kind"] == "energy" and {"water", "raincoat"} <= set(s["amenities"]) for s in body["stations"])
    status, body = await get(stations_api, "/api/v1/stations", **HUAFU, open_now="false", limit="20", radius="5000")
    assert status == 200 and len(body["stations"]) == 20


async def test_nearby_says_why_there_is_nothing(stations_api):
    stations_api.app[keys.STATIONS].clock = lambda: WED_0330
    status, body = await get(stations_api, "/api/v1/stations", **HUAFU, amenity="toilet")
    assert status == 200 and body["stations"] == [] and body["reason"] == "none_open"
    assert body["closed_nearest"]["name"] == "华富社区党群服务中心" and body["closed_nearest"]["status_text"] == "今天09:00开门"
    status, body = await get(stations_api, "/api/v1/stations", lat="22.60", lng="114.20", amenity="raincoat")
    assert body["reason"] == "none_with_amenity" and body["closed_nearest"] is None


@pytest.mark.parametrize("params,code", [
    ({}, "invalid_lat"),
    ({"lat": "22.5"}, "invalid_lng"),
    ({"lat": "north", "lng": "114"}, "invalid_lat"),
    ({"lat": "95", "lng": "114"}, "invalid_lat"),
    ({"lat": "nan", "lng": "114"}, "invalid_lat"),
    ({**HUAFU, "amenity": "massage"}, "invalid_amenity"),
    ({**HUAFU, "kind": "spaceship"}, "invalid_kind"),
    ({**HUAFU, "limit": "500"}, "invalid_limit"),
    ({**HUAFU, "radius": "1e9"}, "invalid_radius"),
    ({**HUAFU, "open_now": "maybe"}, "invalid_open_now"),
    ({**HUAFU, "lat[$gt]": "0"}, "invalid_query"),
])
async def test_bad_queries_are_clear_400s(stations_api, params, code):
    status, body = await get(stations_api, "/api/v1/stations", **params)
    assert status == 400 and body["error"]["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["error"]["message"]) and body["error"]["detail"]


async def test_repeated_parameter_is_refused(stations_api):
    resp = await stations_api.get("/api/v1/stations?lat=22.5&lat=22.6&lng=114.07")
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_lat"


async def test_one_station_and_a_missing_one(stations_api):
    status, body = await get(stations_api, "/api/v1/stations/demo-energy-huafu-night")
    assert status == 200 and body["name"] == "华富社区夜宵店能量栈" and body["open_now"] is False
    assert body["hours"]["mon"] == [["18:00", "03:00"]] and body["demo"] is True
    status, body = await get(stations_api, "/api/v1/stations/demo-energy-huafu-night", **HUAFU)
    assert status == 200 and body["distance_m"] > 0 and body["status_text"] == "今天18:00开门"
    status, body = await get(stations_api, "/api/v1/stations/nope")
    assert status == 404 and body["error"]["code"] == "station_not_found"


async def test_courier_registration_needs_a_login(stations_api, fake_mp, db):
    resp = await stations_api.put("/api/v1/couriers/me", json={"company": "顺丰"})
    assert resp.status == 401
    token = await login(stations_api, fake_mp, "courier-openid")
    resp = await stations_api.get("/api/v1/couriers/me", headers=bearer(token))
    assert (await resp.json()) == {"courier": False}
    resp = await stations_api.put("/api/v1/couriers/me", json={"company": {"$ne": None}}, headers=bearer(token))
    assert resp.status == 400 and (await resp.json())["error"]["code"] == "invalid_company"
    resp = await stations_api.put("/api/v1/couriers/me", json={"company": "顺丰"}, headers=bearer(token))
    body = await resp.json()
    assert resp.status == 200 and body["courier"] is True and body["company"] == "顺丰"
    resp = await stations_api.delete("/api/v1/couriers/me", headers=bearer(token))
    assert resp.status == 204
    resp = await stations_api.get("/api/v1/couriers/me", headers=bearer(token))
    assert (await resp.json()) == {"courier": False}


async def test_openapi_documents_the_station_routes(stations_api):
    status, doc = await get(stations_api, "/api/v1/openapi.json")
    assert status == 200
    assert {"get"} == set(doc["paths"]["/api/v1/stations"]) and doc["paths"]["/api/v1/stations"]["get"]["security"] == []
    assert {"get", "put", "delete"} == set(doc["paths"]["/api/v1/couriers/me"])
    assert "StationHit" in doc["components"]["schemas"]


# -- console -------------------------------------------------------------------------------

async def test_console_lists_the_scope_and_edits_hours_with_audit(stations_api, db):
    await make_staff(db, "admin-huafu", "community_admin", community="huafu-huafu")
    csrf = await console_login(stations_api, "admin-huafu")
    page = await (await stations_api.get("/console/stations")).text()
    assert "华富社区党群服务中心" in page and "华富社区夜宵店能量栈" in page
    assert "田面社区党群服务中心" not in page  # another community
    resp = await stations_api.get("/console/stations/demo-centre-tianmian")
    assert resp.status == 404  # outside the scope: as if missing
    page = await (await stations_api.get("/console/stations/demo-centre-huafu")).text()
    assert 'name="hours_mon" value="09:00-12:00,14:00-18:00"' in page
    form = {
        "_csrf": csrf, "name": "华富社区党群服务中心", "kind": "centre", "community": "huafu-huafu",
        "address": "福田区华富街道华富路1018号（演示）", "latitude": "22.5486", "longitude": "114.0760",
        "phone": "0755-0000-0108", "note": "", "active": "1",
        "hours_mon": "08:30-20:00", "hours_tue": "08:30-20:00", "hours_wed": "全天", "hours_thu": "", "hours_fri": "",
        "hours_sat": "22:00-02:00", "hours_sun": "",
    }
    data = aiohttp.FormData(list(form.items()) + [("amenities", "water"), ("amenities", "charging")])
    resp = await stations_api.post("/console/stations/demo-centre-huafu", data=data, allow_redirects=False)
    assert resp.status == 302
    doc = await db.stations.find_one({"_id": "demo-centre-huafu"})
    assert doc["hours"]["wed"] == [["00:00", "24:00"]] and "thu" not in doc["hours"]
    assert doc["amenities"] == ["water", "charging"]
    assert {"s": 5 * 1440 + 22 * 60, "e": 6 * 1440 + 120} in doc["open_week"]  # Saturday night into Sunday
    audit = await db.audit.find_one({"action": "station.update"})
    assert audit["before"]["hours"]["wed"] == [["09:00", "12:00"], ["14:00", "18:00"]]
    assert audit["after"]["hours"]["wed"] == [["00:00", "24:00"]] and audit["community"] == "huafu-huafu"
    # Bad hours: a clear message, nothing changed.
    bad = aiohttp.FormData(list({**form, "hours_mon": "早上到晚上"}.items()) + [("amenities", "water")])
    resp = await stations_api.post("/console/stations/demo-centre-huafu", data=bad)
    assert resp.status == 400 and "看不懂“周一 早上到晚上”" in await resp.text()
    assert (await db.stations.find_one({"_id": "demo-centre-huafu"}))["amenities"] == ["water", "charging"]
    # Another community is not in the form's choices.
    moved = aiohttp.FormData(list({**form, "community": "huafu-tianmian"}.items()) + [("amenities", "water")])
    resp = await stations_api.post("/console/stations/demo-centre-huafu", data=moved)
    assert resp.status == 400 and "不存在" in await resp.text()


async def test_console_creates_and_imports_within_scope(stations_api, db):
    await make_staff(db, "admin-huafu", "community_admin", community="huafu-huafu")
    await make_staff(db, "grid-huafu", "grid_worker", community="huafu-huafu")
    csrf = await console_login(stations_api, "admin-huafu")
    form = aiohttp.FormData([
        ("_csrf", csrf), ("name", "华富路新能量栈"), ("kind", "energy"), ("community", "huafu-huafu"),
        ("address", "华富路1号"), ("latitude", "22.548"), ("longitude", "114.077"), ("amenities", "water"),
        ("hours_mon", "24小时"), ("active", "1"),
    ])
    resp = await stations_api.post("/console/stations/new", data=form, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    assert await db.stations.count_documents({"name": "华富路新能量栈"}) == 1
    assert await db.audit.count_documents({"action": "station.create"}) == 1
    csv_text = ("名称,类型,地址,纬度,经度,设施,开放时间,社区\n"
                "华富岗亭能量栈,能量栈,华富路2号,22.549,114.076,雨衣,24小时,华富社区\n"
                "田面岗亭能量栈,能量栈,田面村,22.541,114.079,雨衣,24小时,田面社区\n"
                "坏行,能量栈,华富路3号,abc,114.076,雨衣,24小时,华富社区\n")
    upload = aiohttp.FormData()
    upload.add_field("_csrf", csrf)
    upload.add_field("file", io.BytesIO(csv_text.encode("utf-8")), filename="stations.csv", content_type="text/csv")
    resp = await stations_api.post("/console/stations-import", data=upload)
    page = await resp.text()
    assert resp.status == 200 and "已导入 1 个站点" in page
    assert "第 3 行" in page and "不存在" in page and "第 4 行" in page  # 田面社区 is outside the scope
    assert await db.stations.count_documents({"name": "华富岗亭能量栈"}) == 1
    assert await db.stations.count_documents({"name": "田面岗亭能量栈"}) == 0
    # Grid workers see stations but cannot change them.
    async with aiohttp.ClientSession(base_url=str(stations_api.make_url("")),
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:
        page = await browser.get("/console/login")
        token = csrf_of(await page.text())
        await browser.post("/console/login", data={"username": "grid-huafu", "password": "correct-horse-battery",
                                                   "_csrf": token, "next": "/console/"})
        view = await browser.get("/console/stations/demo-centre-huafu")
        assert view.status == 200 and "hours_mon" not in await view.text()
        home = await browser.get("/console/stations")
        grid_csrf = csrf_of(await home.text())
        resp = await browser.post("/console/stations/new", data={"_csrf": grid_csrf, "name": "x"})
        assert resp.status == 403
