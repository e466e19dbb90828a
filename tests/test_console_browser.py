"""The staff console in real headless Chromium: log in, the to-do home, search and
pagination, dispatch -> start -> resolve a ticket the resident chatted in /chat and the
resident's notice, every chart drawn with data (a canvas that is not empty), masking for a
grid worker, labels on every form field, no JavaScript errors. Screenshots: var/screenshots/."""
from __future__ import annotations

import json
import re

import pytest_asyncio

from bot import keys
from services.report_rules import NewReport, Reporter
from storage.residents import ResidentRepository
from tests.api_helpers import PASSWORD, fast_argon2, make_staff, seed_places  # noqa: F401
from tests.browser import Browser

A = "huafu-tianmian"
TICKET = re.compile(r"R\d{8}-\d{4}")


@pytest_asyncio.fixture
async def world(make_client, db):
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", A)
    await make_staff(db, "grid-a", "grid_worker", A)
    client = await make_client(default_community=A)
    service = client.app[keys.REPORTS]
    residents = ResidentRepository(db)
    for i in range(23):
        person = await residents.for_user_key(f"rest:p{i}", A)
        await residents.update_profile(person.id, name=f"居民{i:02d}", phone=f"1390000{i:04d}", building=f"{i}栋2单元50{i % 9}")
        await service.create(Reporter(person.id, f"rest:p{i}", A), NewReport(
            category=("streetlight", "garbage", "road")[i % 3], description=f"第{i}号问题", location_text=f"{i}栋门口"))
    return client


async def login(browser: Browser, base: str, username: str) -> None:
    await browser.goto(f"{base}/console/login")
    assert await browser.unlabeled_fields() == []
    await browser.fill("input[name=username]", username)
    await browser.fill("input[name=password]", PASSWORD)
    await browser.submit_and_load("form button[type=submit]")
    await browser.wait("location.pathname === '/console/'", "the home page")


async def chat(browser: Browser, text: str) -> str:
    before = await browser.js("document.querySelectorAll('.msg.bot').length")
    await browser.fill("#message", text)
    await browser.click("#send")
    await browser.wait(f"document.querySelectorAll('.msg.bot').length > {before}"
                       " && document.querySelector('.phone').dataset.busy === '0'", f"reply to {text}")
    return await browser.js("Array.from(document.querySelectorAll('.msg.bot')).slice(-2).map(e => e.textContent).join('\\n')")


async def test_a_worker_closes_a_chatted_report_and_reads_the_charts(world, db):
    base = str(world.make_url("")).rstrip("/")
    async with Browser() as browser:
        # A resident reports in the web chat.
        await browser.goto(f"{base}/chat")
        await browser.wait("document.querySelectorAll('.msg.bot').length >= 1", "the greeting")
        assert "请核对" in await chat(browser, "3栋门口路灯坏了")
        ticket = TICKET.search(await chat(browser, "确认")).group(0)

        await login(browser, base, "admin-a")
        assert await browser.js("document.querySelector('[data-todo=dispatch]') !== null")
        await browser.screenshot("console-home")

        # Search and pagination on the board.
        await browser.goto(f"{base}/console/reports")
        assert await browser.js("document.querySelectorAll('table.board a[href^=\"/console/reports/R\"]').length") == 20
        assert await browser.unlabeled_fields() == []
        await browser.submit_and_load("a[rel=next]")
        assert await browser.js("document.querySelectorAll('table.board a[href^=\"/console/reports/R\"]').length") == 4
        await browser.goto(f"{base}/console/reports")
        await browser.fill("#f-q", ticket)
        await browser.submit_and_load(".filters button[type=submit]")
        links = await browser.js("Array.from(document.querySelectorAll('table.board a[href^=\"/console/reports/R\"]')).map(a => a.textContent)")
        assert links == [ticket]
        await browser.screenshot("console-board-search")

        # dispatch -> start -> resolve, the resident hears of it.
        await browser.goto(f"{base}/console/reports/{ticket}")
        assert await browser.unlabeled_fields() == []
        assert await browser.js("document.querySelectorAll('#act-note').length") == 1  # the note once
        for action, note in (("start", "已安排电工"), ("resolve", "灯泡已更换，恢复照明")):
            await browser.wait(f"document.querySelector('button[data-action={action}]') !== null", f"the {action} button")
            await browser.js(f"document.querySelector('#act-note').value = {json.dumps(note)}")
            await browser.submit_and_load(f"button[data-action={action}]")
            assert await browser.wait("document.querySelector('.flash') && document.querySelector('.flash').textContent",
                                      "the flash message")
        assert await browser.wait("document.body.textContent.includes('已办结')", "the resolved status")
        await browser.screenshot("console-ticket-resolved")
        doc = await db.reports.find_one({"_id": ticket})
        assert doc["status"] == "resolved"
        notices = await db.notices.find({"resident_id": doc["resident_id"]}).to_list(20)
        assert any("灯泡已更换" in json.dumps(n, ensure_ascii=False, default=str) for n in notices)

        # Every chart drawn, with data.
        await browser.goto(f"{base}/console/reports/stats?period=30")
        await browser.wait("document.querySelectorAll('[data-chart][data-rendered=\"1\"]').length === 6", "six charts")
        painted = await browser.js("""Array.from(document.querySelectorAll('[data-chart] canvas')).map(c => {
            const ctx = c.getContext('2d'); const d = ctx.getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) n++; } return n; })""")
        assert len(painted) >= 6 and all(n > 500 for n in painted), painted
        await browser.screenshot("console-charts")
        assert browser.errors == []

    async with Browser() as browser:
        await login(browser, base, "grid-a")
        await browser.goto(f"{base}/console/residents?q=居民07")
        text = await browser.js("document.body.innerText")
        assert "居民07" in text and "139****0007" in text and "13900000007" not in text and "2单元507" not in text
        await browser.screenshot("console-residents-grid-masked")
        # Keyboard: Tab reaches the search field.
        await browser.js("document.activeElement.blur()")
        for _ in range(30):
            await browser.press_tab()
            if await browser.js("document.activeElement && document.activeElement.id === 'r-q'"):
                break
        assert await browser.js("document.activeElement.id") == "r-q"
        assert browser.errors == []


PAINTED = """(sel => Array.from(document.querySelectorAll(sel + ' canvas')).map(c => {
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] !== 0) n++; } return n; }))"""


async def test_the_map_and_the_street_screen_render_with_data(make_client, db):
    from tests.test_console_map import make_world

    client = await make_world(make_client, db)
    base = str(client.make_url("")).rstrip("/")
    async with Browser(1600, 900) as browser:
        await login(browser, base, "street")
        await browser.goto(f"{base}/console/map")
        await browser.wait("document.querySelector('#map[data-rendered=\"1\"]') !== null", "the map drawn")
        assert await browser.js("Number(document.querySelector('#map').dataset.points)") > 10
        painted = await browser.js(PAINTED + "('#map')")
        assert painted and max(painted) > 20_000, painted
        assert await browser.unlabeled_fields() == []
        links = await browser.js("Array.from(document.querySelectorAll('#map-list a')).map(a => a.getAttribute('href'))")
        assert any(h.startswith("/console/reports/R") for h in links) and any(h.startswith("/console/stations/") for h in links)
        await browser.screenshot("console-map")
        # Clicking a ticket's point opens the ticket.
        point = await browser.js("""(() => { const c = echarts.getInstanceByDom(document.querySelector('#map .map-canvas'));
            const s = c.getOption().series.findIndex(x => x.name.startsWith('工单'));
            const v = c.getOption().series[s].data[0]; const p = c.convertToPixel({geoIndex: 0}, v.value);
            const r = document.querySelector('#map .map-canvas').getBoundingClientRect();
            return {x: r.left + p[0], y: r.top + p[1], ticket: v.name}; })()""")
        await browser.js("window.__linliOld = true")
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            await browser.cmd("Input.dispatchMouseEvent", type=kind, x=point["x"], y=point["y"], button="left",
                              clickCount=1)
        await browser.wait(f"!window.__linliOld && location.pathname === '/console/reports/{point['ticket']}'",
                           "the ticket page after a click on its point")

        await browser.goto(f"{base}/console/screen?refresh=10")
        await browser.wait("Number(document.querySelector('#screen').dataset.loaded) >= 1"
                           " && document.querySelector('#s-map[data-rendered=\"1\"]') !== null"
                           " && document.querySelectorAll('[data-trend][data-rendered=\"1\"]').length === 2", "the screen")
        assert await browser.js("document.querySelector('#t-today').textContent") == "4"
        assert await browser.js("document.querySelectorAll('#s-communities tr').length") == 8
        assert await browser.js("document.querySelectorAll('#s-today a').length") == 4
        painted = await browser.js(PAINTED + "('#screen')")
        assert len(painted) >= 3 and all(n > 2_000 for n in painted), painted
        # It refreshes itself: a new ticket shows without reloading the page.
        person = await ResidentRepository(db).for_user_key("rest:late", A)
        await client.app[keys.REPORTS].create(Reporter(person.id, "rest:late", A), NewReport(
            category="road", description="新的问题", location_text="路口", latitude=22.5430, longitude=114.0790))
        await browser.wait("document.querySelector('#t-today').textContent === '5'", "the screen refreshed", bound=240)
        await browser.screenshot("street-screen")
        assert browser.errors == []


async def test_every_form_field_has_a_label_and_focus_is_visible(make_client, db):
    from datetime import date

    from services.points import seed_demo_points
    from storage.bookings import seed_catalog
    from storage.routing import seed_routing
    from tests.test_console_map import make_world

    client = await make_world(make_client, db)
    await seed_routing(db)
    await seed_catalog(db, date.today())
    await seed_demo_points(db)
    base = str(client.make_url("")).rstrip("/")
    resident = (await ResidentRepository(db).for_user_key("rest:m0", A)).id
    pages = ["/console/", "/console/reports", "/console/reports/routing", "/console/reports/stats",
             "/console/bookings", "/console/bookings/links", "/console/bookings/rentals", "/console/bookings/slots/new",
             "/console/points", f"/console/points/residents/{resident}", "/console/stations", "/console/stations/new",
             "/console/sharing", "/console/sharing/words", "/console/callbacks", "/console/residents",
             "/console/staff", "/console/staff/new", "/console/audit", "/console/map"]
    async with Browser() as browser:
        await login(browser, base, "root")  # a sysadmin sees every form
        for path in pages:
            await browser.goto(base + path)
            assert await browser.js("document.querySelector('h1') !== null"), path
            assert await browser.unlabeled_fields() == [], path
            if path == "/console/bookings":
                slot = await browser.js("(document.querySelector('a[href^=\"/console/bookings/slots/\"]:not([href$=\"/new\"])') || {}).href")
            if path == "/console/stations":
                station = await browser.js("(document.querySelector('a[href^=\"/console/stations/demo-\"]') || {}).href")
        assert slot and station
        for url in (slot, station):
            await browser.goto(url)
            assert await browser.js("document.querySelectorAll('input:not([type=hidden]), select, textarea').length") > 0, url
            assert await browser.unlabeled_fields() == [], url
        await browser.screenshot("console-station-edit")
        # Keyboard: Tab moves the focus through the page, and every stop shows an outline.
        await browser.goto(f"{base}/console/points")
        await browser.js("document.activeElement.blur()")
        seen = set()
        for _ in range(25):
            await browser.press_tab()
            stop = await browser.js("""(() => { const e = document.activeElement; const s = getComputedStyle(e);
                return {tag: e.tagName, id: e.id || e.name || e.textContent.slice(0, 10),
                        outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}; })()""")
            assert stop["tag"] != "BODY" and stop["outline"], stop
            seen.add((stop["tag"], stop["id"]))
        assert {"INPUT", "A", "BUTTON"} <= {tag for tag, _ in seen}
        assert browser.errors == []
