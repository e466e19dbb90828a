"""Console lists a worker can use: the to-do home, the ticket board's search, sort and
pagination, residents search and pagination (no phone probing for grid workers), China time
and place names on every page."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest_asyncio

from bot import keys
from bot.console.common import cst
from services.report_rules import NewReport, Reporter
from storage.residents import ResidentRepository
from tests.api_helpers import console_login, fast_argon2, make_staff, seed_places_and_staff  # noqa: F401

A, B = "huafu-tianmian", "huafu-xintian"


@pytest_asyncio.fixture
async def world(make_client, db):
    await seed_places_and_staff(db, A)
    client = await make_client()
    service = client.app[keys.REPORTS]
    residents = ResidentRepository(db)
    tickets = []
    for i in range(25):
        person = await residents.for_user_key(f"rest:p{i}", A)
        await residents.update_profile(person.id, name=f"居民{i:02d}", phone=f"138000000{i:02d}", building=f"{i}栋1单元101")
        made = await service.create(Reporter(person.id, f"rest:p{i}", A), NewReport(
            category="streetlight" if i % 2 else "garbage", description=f"第{i}号问题", location_text=f"{i}栋门口"))
        tickets.append(made.own_ticket)
    return {"make_client": make_client, "tickets": tickets, "db": db}


async def logged_in(world, username: str):
    client = await world["make_client"]()
    await console_login(client, username)
    return client


def tickets_in(text: str) -> list[str]:
    return re.findall(r'href="/console/reports/(R\d{8}-\d{4})"', text)


async def test_home_is_the_to_do_with_links_to_filtered_lists(world):
    client = await logged_in(world, "admin-a")
    text = await (await client.get("/console/")).text()
    assert "我的待办" in text and 'data-todo="due_today"' in text
    for href in re.findall(r'<a href="([^"]+)" data-todo', text):
        resp = await client.get(href.replace("&amp;", "&"))
        assert resp.status == 200, href


async def test_board_search_sort_and_pagination(world):
    client = await logged_in(world, "grid-a")
    first = await (await client.get("/console/reports")).text()
    assert len(tickets_in(first)) == 20 and "共 25 条" in first and "下一页" in first
    second = await (await client.get("/console/reports", params={"page": "2"})).text()
    assert len(tickets_in(second)) == 5 and not set(tickets_in(first)) & set(tickets_in(second))
    oldest = tickets_in(await (await client.get("/console/reports", params={"sort": "old"})).text())
    assert oldest[0] == world["tickets"][0]
    by_words = tickets_in(await (await client.get("/console/reports", params={"q": "第7号"})).text())
    assert by_words == [world["tickets"][7]]
    by_place = tickets_in(await (await client.get("/console/reports", params={"q": "12栋"})).text())
    assert by_place == [world["tickets"][12]]
    by_number = tickets_in(await (await client.get("/console/reports", params={"q": world["tickets"][3]})).text())
    assert by_number == [world["tickets"][3]]
    # Words are literal text, never a pattern or an operator.
    assert tickets_in(await (await client.get("/console/reports", params={"q": ".*"})).text()) == []
    # Filters and sort survive paging.
    text = await (await client.get("/console/reports", params={"category": "garbage", "sort": "old"})).text()
    assert "共 13 条" in text
    text = await (await client.get("/console/reports", params={"q": "栋门口", "sort": "old"})).text()
    assert "共 25 条" in text
    link = re.search(r'href="([^"]+)" rel="next"', text).group(1).replace("&amp;", "&")
    assert "sort=old" in link and "page=2" in link
    assert tickets_in(await (await client.get(link)).text()) == world["tickets"][20:]


async def test_residents_search_and_pagination(world):
    admin = await logged_in(world, "admin-a")
    text = await (await admin.get("/console/residents")).text()
    assert text.count("/console/residents/") >= 20 and "共 25 条" in text
    text = await (await admin.get("/console/residents", params={"q": "居民07"})).text()
    assert "居民07" in text and "居民08" not in text
    text = await (await admin.get("/console/residents", params={"q": "13800000011"})).text()
    assert "居民11" in text and "共 1 条" in text
    grid = await logged_in(world, "grid-a")
    text = await (await grid.get("/console/residents", params={"q": "13800000011"})).text()
    assert "共 0 条" in text and "13800000011" not in text  # no phone probing for grid workers
    text = await (await grid.get("/console/residents", params={"q": "居民11"})).text()
    assert "居民11" in text and "138****0011" in text and "13800000011" not in text


def test_times_are_china_time():
    assert cst(datetime(2026, 1, 5, 5, 8, tzinfo=timezone.utc)) == "2026-01-05 13:08"
    assert cst(datetime(2026, 1, 5, 20, 0)) == "2026-01-06 04:00"  # naive values are UTC
    assert cst(None) == ""


async def test_csv_export_is_scoped_masked_and_formula_safe(world):
    db = world["db"]
    await db.reports.update_one({"_id": world["tickets"][0]},
                                {"$set": {"description": "=HYPERLINK(\"http://x\") 电话13812345678", "location_text": "@SUM(A1)"}})
    grid = await logged_in(world, "grid-a")
    resp = await grid.get("/console/reports/export.csv", params={"sort": "old"})
    assert resp.status == 200 and resp.content_type == "text/csv"
    body = (await resp.read()).decode("utf-8-sig")
    lines = body.splitlines()
    assert lines[0].startswith("工单号,提交时间,社区") and len(lines) == 26
    first = lines[1]
    assert "'=HYPERLINK" in first and "'@SUM(A1)" in first and "田面社区" in first
    assert "13812345678" not in body and "138****5678" in first
    admin = await logged_in(world, "admin-a")
    body = (await (await admin.get("/console/reports/export.csv", params={"sort": "old"})).read()).decode("utf-8-sig")
    assert "13812345678" in body
    assert await db.audit.count_documents({"action": "report.export"}) == 2


async def test_xlsx_export_is_scoped_masked_and_formula_safe(world):
    import io

    from openpyxl import load_workbook

    db = world["db"]
    await db.reports.update_one({"_id": world["tickets"][0]}, {"$set": {
        "description": "=HYPERLINK(\"http://x\") 电话13812345678\x01", "location_text": "+SUM(A1)"}})
    await make_staff(db, "grid-b", "grid_worker", B)
    grid = await logged_in(world, "grid-a")
    text = await (await grid.get("/console/reports")).text()
    assert 'href="/console/reports/export.xlsx' in text
    resp = await grid.get("/console/reports/export.xlsx", params={"sort": "old", "category": "garbage"})
    assert resp.status == 200
    assert resp.content_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert resp.headers["Content-Disposition"].endswith('.xlsx"')
    raw = await resp.read()
    sheet = load_workbook(io.BytesIO(raw)).active
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0][:3] == ["工单号", "提交时间", "社区"] and len(rows) == 1 + 13  # the board's filter
    first = sheet[2]
    assert all(c.data_type == "s" for c in first)  # text, never a formula
    assert first[5].value.startswith("'=HYPERLINK") and first[4].value == "'+SUM(A1)"
    assert "138****5678" in first[5].value and "\x01" not in first[5].value
    assert not any("13812345678" in str(v) for row in rows for v in row)
    assert rows[1][2] == "田面社区"
    admin = await logged_in(world, "admin-a")
    sheet = load_workbook(io.BytesIO(await (await admin.get("/console/reports/export.xlsx",
                                                              params={"sort": "old"})).read())).active
    assert "13812345678" in sheet["F2"].value and sheet.max_row == 26
    other = await logged_in(world, "grid-b")  # another community: nothing of A
    sheet = load_workbook(io.BytesIO(await (await other.get("/console/reports/export.xlsx")).read())).active
    assert sheet.max_row == 1
    audit = await db.audit.find({"action": "report.export"}).to_list(10)
    assert len(audit) == 3 and all(a["after"]["format"] == "xlsx" for a in audit)
