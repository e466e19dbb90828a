"""H1: every write by id stays in the staff member's scope, imports included, and the
audit trail names the record and the change."""
from __future__ import annotations

import io

import aiohttp

from services.station_import import seed_demo_stations
from tests.api_helpers import api, console_login, fake_mp, fast_argon2, make_staff  # noqa: F401  (fixtures)

HEADER = "编号,名称,类型,地址,纬度,经度,设施,开放时间,社区\n"


async def _import(client, csrf: str, csv_text: str) -> tuple[int, str]:
    upload = aiohttp.FormData()
    upload.add_field("_csrf", csrf)
    upload.add_field("file", io.BytesIO(csv_text.encode("utf-8")), filename="s.csv", content_type="text/csv")
    resp = await client.post("/console/stations-import", data=upload)
    return resp.status, await resp.text()


async def test_import_cannot_overwrite_or_move_another_communitys_station(api, db):
    await seed_demo_stations(db)
    await make_staff(db, "admin-tianmian", "community_admin", "huafu-tianmian")
    before = await db.stations.find_one({"_id": "demo-centre-xintian"})
    csrf = await console_login(api, "admin-tianmian")
    status, page = await _import(api, csrf, HEADER + "demo-centre-xintian,被改的站,能量栈,田面村9号,22.54,114.07,"
                                 "雨衣,24小时,田面社区\n")
    assert status == 200 and "第 2 行" in page and "其他社区" in page
    after = await db.stations.find_one({"_id": "demo-centre-xintian"})
    assert after == before
    assert await db.audit.count_documents({"action": {"$regex": "^station.import"}, "record_id": None}) == 0
    assert await db.audit.count_documents({"record_id": "demo-centre-xintian"}) == 0


async def test_import_audits_each_record_with_before_and_after(api, db):
    await seed_demo_stations(db)
    await make_staff(db, "admin-tianmian", "community_admin", "huafu-tianmian")
    csrf = await console_login(api, "admin-tianmian")
    status, page = await _import(api, csrf, HEADER
                                 + "demo-centre-tianmian,田面社区党群服务中心,党群服务中心,田面村1号,22.5417,114.0793,"
                                   "饮水,24小时,田面社区\n"
                                 + ",田面新能量栈,能量栈,田面村2号,22.5418,114.0794,雨衣,24小时,田面社区\n")
    assert status == 200 and "已导入 2 个站点" in page
    updated = await db.audit.find_one({"record_id": "demo-centre-tianmian"})
    assert updated["action"] == "station.import" and updated["collection"] == "stations"
    assert updated["before"]["amenities"] != updated["after"]["amenities"] == ["water"]
    new_id = (await db.stations.find_one({"name": "田面新能量栈"}))["_id"]
    created = await db.audit.find_one({"record_id": new_id})
    assert created["before"] is None and created["after"]["name"] == "田面新能量栈"
    assert created["community"] == "huafu-tianmian"
    assert await db.audit.count_documents({"record_id": None, "collection": "stations"}) == 0
