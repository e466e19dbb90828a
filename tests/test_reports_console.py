"""The staff console's report pages: the dispatch board within the staff member's scope,
the ticket page with masked contact details, the actions (CSRF, state machine, audit,
the reporter's notices), the statistics and the routing table."""
from __future__ import annotations

import re

import pytest_asyncio
from aiohttp import FormData

from bot import keys
from services.report_rules import NewReport, Reporter
from storage.residents import ResidentRepository
from tests.api_helpers import (  # noqa: F401  (fixture)
    console_login, csrf_of, fast_argon2, make_staff, seed_places_and_staff,
)

A, B = "huafu-tianmian", "huafu-xintian"
JPEG = b"\xff\xd8\xff\xe0" + b"\x22" * (300 * 1024) + b"\xff\xd9"  # larger than the app's 64 KB body limit


@pytest_asyncio.fixture
async def world(make_client, db):
    """Staff of two communities and the street, and tickets in both communities."""
    await seed_places_and_staff(db, A)
    await make_staff(db, "street", "street_admin", street="huafu")
    client = await make_client()
    service = client.app[keys.REPORTS]
    residents = ResidentRepository(db)
    alice = await residents.for_user_key("rest:alice", A)
    await residents.update_profile(alice.id, name="张阿姨", phone="13812345678", building="3栋2单元501")
    bob = await residents.for_user_key("rest:bob", B)
    light = await service.create(Reporter(alice.id, "rest:alice", A), NewReport(
        category="streetlight", description="路灯不亮", location_text="3栋门口"))
    garbage = await service.create(Reporter(alice.id, "rest:alice", A), NewReport(
        category="garbage", description="垃圾没人收", location_text="5栋"))
    other = await service.create(Reporter(bob.id, "rest:bob", B), NewReport(
        category="parking", description="电动车堵住消防通道", location_text="新田村口"))
    return {"client": client, "make_client": make_client, "service": service, "alice": alice,
            "light": light.own_ticket, "garbage": garbage.own_ticket, "other": other.own_ticket}


async def logged_in(world, username: str):
    client = await world["make_client"]()
    token = await console_login(client, username)
    return client, token


async def test_login_is_required(world):
    client = world["client"]
    resp = await client.get("/console/reports", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/console/login")
    resp = await client.get(f"/console/reports/{world['light']}", allow_redirects=False)
    assert resp.status == 302


async def test_board_shows_only_the_staff_members_community_and_filters(world):
    client, _ = await logged_in(world, "grid-a")
    text = await (await client.get("/console/reports")).text()
    assert world["light"] in text and world["garbage"] in text and world["other"] not in text
    assert "报事派单" in text  # in the navigation
    text = await (await client.get("/console/reports", params={"category": "garbage"})).text()
    assert world["garbage"] in text and world["light"] not in text
    text = await (await client.get("/console/reports", params={"status": "resolved"})).text()
    assert "没有符合条件的工单" in text
    # Another community's ticket is not found, whatever its number.
    assert (await client.get(f"/console/reports/{world['other']}")).status == 404
    street, _ = await logged_in(world, "street")
    text = await (await street.get("/console/reports")).text()
    assert all(world[k] in text for k in ("light", "garbage", "other"))


async def test_contact_details_are_masked_for_grid_workers(world):
    grid, _ = await logged_in(world, "grid-a")
    text = await (await grid.get(f"/console/reports/{world['light']}")).text()
    assert "138****5678" in text and "13812345678" not in text
    assert "3栋***" in text and "501" not in text
    admin, _ = await logged_in(world, "admin-a")
    text = await (await admin.get(f"/console/reports/{world['light']}")).text()
    assert "13812345678" in text and "3栋2单元501" in text


async def test_actions_follow_the_state_machine_and_are_audited(world, db):
    client, csrf = await logged_in(world, "grid-a")
    ticket = world["light"]
    page = await (await client.get(f"/console/reports/{ticket}")).text()
    assert f'action="/console/reports/{ticket}/start"' in page and 'name="_csrf"' in page
    assert f'action="/console/reports/{ticket}/dispatch"' in page
    # Without the CSRF token nothing happens.
    resp = await client.post(f"/console/reports/{ticket}/start", data={"note": "x"})
    assert resp.status == 403
    assert (await world["service"].get(ticket)).status == "dispatched"

    resp = await client.post(f"/console/reports/{ticket}/start", data={"_csrf": csrf, "note": "已联系路灯所"},
                             allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"] == f"/console/reports/{ticket}?done=start"
    report = await world["service"].get(ticket)
    assert report.status == "in_progress" and report.history[-1]["actor"]["name"] == "grid-a"
    # Illegal now: start again.
    resp = await client.post(f"/console/reports/{ticket}/start", data={"_csrf": csrf})
    assert resp.status == 409 and "不能开始处理" in await resp.text()
    # Reject needs a reason.
    resp = await client.post(f"/console/reports/{ticket}/reject", data={"_csrf": csrf, "reason": " "})
    assert resp.status == 400 and "原因" in await resp.text()

    form = FormData()
    form.add_field("_csrf", csrf)
    form.add_field("note", "已更换灯泡，恢复照明")
    form.add_field("photo", JPEG, filename="done.jpg", content_type="image/jpeg")
    resp = await client.post(f"/console/reports/{ticket}/resolve", data=form, allow_redirects=False)
    assert resp.status == 302, await resp.text()
    report = await world["service"].get(ticket)
    assert report.status == "resolved" and report.history[-1]["photo"]["content_type"] == "image/jpeg"
    page = await (await client.get(f"/console/reports/{ticket}")).text()
    assert "已更换灯泡，恢复照明" in page and "办结照片" in page
    photo = await client.get(f"/console/reports/{ticket}/photos/0")
    assert photo.status == 200 and await photo.read() == JPEG
    assert 'action="/console/reports/' + ticket + '/start"' not in page  # nothing left to do

    audit = [(e["username"], e["action"], e["record_id"]) async for e in db.audit.find(
        {"collection": "reports"}).sort("at", 1)]
    assert audit == [("grid-a", "report.start", ticket), ("grid-a", "report.resolve", ticket)]
    entry = await db.audit.find_one({"action": "report.resolve"})
    assert entry["before"]["status"] == "in_progress" and entry["after"]["status"] == "resolved"
    assert entry["community"] == A and entry["resident_id"] == world["alice"].id
    notices = [n["text"] async for n in db.notices.find({"resident_id": world["alice"].id}).sort("created_at", 1)]
    assert len(notices) == 2 and "开始处理" in notices[0] and "已更换灯泡" in notices[1]


async def test_bad_photo_on_resolve_is_refused(world):
    client, csrf = await logged_in(world, "grid-a")
    form = FormData()
    form.add_field("_csrf", csrf)
    form.add_field("note", "处理好了")
    form.add_field("photo", b"GIF89a" + b"\x00" * 100, filename="x.jpg", content_type="image/jpeg")
    resp = await client.post(f"/console/reports/{world['light']}/resolve", data=form)
    assert resp.status == 400 and "JPG 或 PNG" in await resp.text()
    assert (await world["service"].get(world["light"])).status == "dispatched"


async def test_reject_and_mark_duplicate(world, db):
    client, csrf = await logged_in(world, "admin-a")
    resp = await client.post(f"/console/reports/{world['garbage']}/reject",
                             data={"_csrf": csrf, "reason": "属于小区物业管理范围"}, allow_redirects=False)
    assert resp.status == 302
    assert (await world["service"].get(world["garbage"])).status == "rejected"
    # A second report of the light, far enough apart not to be caught automatically.
    service = world["service"]
    again = await service.create(Reporter(world["alice"].id, "rest:alice", A), NewReport(
        category="streetlight", description="三栋那边灯坏了", location_text="三号楼大门"))
    assert not again.duplicate
    resp = await client.post(f"/console/reports/{again.own_ticket}/duplicate",
                             data={"_csrf": csrf, "duplicate_of": world["other"]})
    assert resp.status == 400  # the other community's ticket is outside the scope
    resp = await client.post(f"/console/reports/{again.own_ticket}/duplicate",
                             data={"_csrf": csrf, "duplicate_of": world["light"], "reason": "同一根灯杆"},
                             allow_redirects=False)
    assert resp.status == 302
    report = await service.get(again.own_ticket)
    assert report.status == "duplicate" and report.duplicate_of == world["light"] and report.reason == "同一根灯杆"
    assert await db.audit.count_documents({"action": {"$in": ["report.reject", "report.duplicate"]}}) == 2


async def test_dispatch_to_another_department(world):
    client, csrf = await logged_in(world, "grid-a")
    # The department is a choice from the routing table: free text is refused.
    resp = await client.post(f"/console/reports/{world['light']}/dispatch",
                             data={"_csrf": csrf, "department": "华富街道路灯专班"}, allow_redirects=False)
    assert resp.status == 400 and "请从列表中选择承办部门" in await resp.text()
    page = await (await client.get(f"/console/reports/{world['light']}")).text()
    assert '<select id="act-department" name="department">' in page and "街道水务站" in page
    resp = await client.post(f"/console/reports/{world['light']}/dispatch",
                             data={"_csrf": csrf, "department": "街道水务站"}, allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].endswith("?done=dispatch")
    assert (await world["service"].get(world["light"])).department == "街道水务站"
    text = await (await client.get(resp.headers["Location"])).text()
    assert "已派单，居民会收到通知。" in text


async def test_stats_page_shows_counts_and_median_hours(world):
    service = world["service"]
    from storage.reports import Actor

    await service.act(world["light"], "resolve", Actor("staff", "x", "x"), note="好了")
    client, _ = await logged_in(world, "grid-a")
    text = await (await client.get("/console/reports/stats")).text()
    assert "路灯不亮" in text and "垃圾堆放" in text and "乱停乱放" not in text  # B is out of scope
    assert "共 2 件，已处理 1 件" in text
    assert re.search(r'class="bar" style="width:100\.0%[^>]*>1<', text)
    assert "尚无已处理" in text
    assert (await client.get("/console/reports/stats", params={"period": "all"})).status == 200


async def test_routing_table_edits_are_for_street_admins(world, db):
    grid, csrf = await logged_in(world, "grid-a")
    page = await (await grid.get("/console/reports/routing")).text()
    assert "街道水务站" in page and "<form" not in page.split("派单规则</h1>")[1].split("</table>")[0]
    resp = await grid.post("/console/reports/routing", data={"_csrf": csrf, "category": "drainage",
                                                            "department": "x", "sla_hours": "1"})
    assert resp.status == 403
    street, csrf = await logged_in(world, "street")
    page = await (await street.get("/console/reports/routing")).text()
    assert 'name="sla_hours"' in page and csrf_of(page) == csrf
    resp = await street.post("/console/reports/routing", data={"_csrf": csrf, "category": "drainage",
                                                              "department": "华富水务所", "sla_hours": "0"})
    assert resp.status == 400
    resp = await street.post("/console/reports/routing", data={"_csrf": csrf, "category": "drainage",
                                                              "department": "华富水务所", "sla_hours": "8"},
                             allow_redirects=False)
    assert resp.status == 302
    route = await world["service"].routing.get("drainage")
    assert (route.department, route.sla_hours) == ("华富水务所", 8)
    entry = await db.audit.find_one({"action": "report_routing.update"})
    assert entry["before"]["department"] == "街道水务站" and entry["after"]["sla_hours"] == 8
