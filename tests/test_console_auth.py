"""Staff console: login, cookies, CSRF on every form, lockout, roles, staff accounts
and the audit trail of every staff action."""
from __future__ import annotations

import pytest
import pytest_asyncio

from bot import keys
from storage.audit import AuditLog
from tests.api_helpers import (  # noqa: F401  (fixtures)
    PASSWORD, console_login, csrf_of, fast_argon2, make_staff, other_browser, seed_places, seed_places_and_staff,
)
from tests.waiting import expired

A, B = "huafu-tianmian", "huafu-xintian"
CREATE, UPDATE = "<td>staff.create</td>", "<td>resident.update</td>"


@pytest_asyncio.fixture
async def console(make_client, db):
    await seed_places_and_staff(db, A)
    await make_staff(db, "admin-b", "community_admin", B)
    await make_staff(db, "street", "street_admin", street="huafu")
    await make_staff(db, "root", "sysadmin")
    return await make_client()


async def actions(db) -> list[tuple[str, str]]:
    return [(e["username"], e["action"]) async for e in db.audit.find({}).sort("at", 1)]


async def test_login_sets_a_strict_httponly_cookie(console, db, redis):
    page = await console.get("/console/login")
    assert page.status == 200 and "工作人员登录" in await page.text()
    token = csrf_of(await page.text())
    resp = await console.post(
        "/console/login", data={"username": "Admin-A", "password": PASSWORD, "_csrf": token, "next": "/console/staff"},
        allow_redirects=False,
    )
    assert resp.status == 302 and resp.headers["Location"] == "/console/staff"
    cookie = resp.cookies["linli_console"]
    assert cookie["httponly"] and cookie["samesite"] == "Strict" and cookie["path"] == "/console"
    assert not await redis.keys(f"*{cookie.value}*")  # only a digest of the token is stored
    home = await console.get("/console/")
    text = await home.text()
    assert "您好，admin-a" in text and "社区管理员" in text
    assert home.headers["X-Frame-Options"] == "DENY" and "no-store" in home.headers["Cache-Control"]
    assert ("admin-a", "auth.login") in await actions(db)


async def test_open_redirects_are_refused(console):
    token = csrf_of(await (await console.get("/console/login")).text())
    resp = await console.post(
        "/console/login", data={"username": "admin-a", "password": PASSWORD, "_csrf": token,
                                "next": "//evil.example/console"}, allow_redirects=False,
    )
    assert resp.headers["Location"] == "/console/"


async def test_wrong_password_and_lockout(console):
    token = csrf_of(await (await console.get("/console/login")).text())

    async def attempt(username: str, password: str):
        return await console.post("/console/login", data={"username": username, "password": password, "_csrf": token},
                                  allow_redirects=False)

    first = await attempt("admin-a", "wrong-password")
    assert first.status == 401 and "用户名或密码不正确" in await first.text()
    for _ in range(3):
        assert (await attempt("admin-a", "wrong-password")).status == 401
    locked = await attempt("admin-a", "wrong-password")  # the fifth failure locks
    assert locked.status == 429 and "锁定" in await locked.text()
    assert int(locked.headers["Retry-After"]) > 0
    still = await attempt("admin-a", PASSWORD)  # even the right password, while locked
    assert still.status == 429
    # only this username from this client: another account from the same address logs in
    assert (await attempt("admin-b", PASSWORD)).status == 302


async def test_unknown_users_count_as_failures(console):
    token = csrf_of(await (await console.get("/console/login")).text())
    for _ in range(5):
        resp = await console.post("/console/login", data={"username": "ghost", "password": "x", "_csrf": token})
    assert resp.status == 429


async def test_pages_need_login_and_roles(console):
    resp = await console.get("/console/staff", allow_redirects=False)
    assert resp.status == 302 and resp.headers["Location"].startswith("/console/login?next=")
    await console_login(console, "grid-a")
    assert (await console.get("/console/residents")).status == 200
    for path in ("/console/staff", "/console/staff/new", "/console/audit"):
        denied = await console.get(path)
        assert denied.status == 403 and "没有权限" in await denied.text()
    missing = await console.get("/console/no-such-page")
    assert missing.status == 404 and "找不到" in await missing.text()


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
async def test_csrf_is_required_on_every_form(console, db, token):
    csrf = await console_login(console, "admin-a")
    form = {"username": "new-grid", "name": "新人", "password": PASSWORD, "role": "grid_worker", "community": A}
    if token is not None:
        form["_csrf"] = token
    resp = await console.post("/console/staff", data=form)
    assert resp.status == 403 and "CSRF" in await resp.text()
    assert await db.staff.count_documents({"username": "new-grid"}) == 0
    # logging out needs the token too
    assert (await console.post("/console/logout", data={"_csrf": token or ""})).status == 403
    assert (await console.get("/console/staff")).status == 200
    # the right token works
    ok = await console.post("/console/staff", data={**form, "_csrf": csrf}, allow_redirects=False)
    assert ok.status == 302 and await db.staff.count_documents({"username": "new-grid"}) == 1


async def test_csrf_of_another_session_is_rejected(console, db):
    other_token = await console_login(console, "admin-b")
    async with other_browser(console) as mine:
        await console_login(mine, "admin-a")
        resp = await mine.post("/console/staff", data={"username": "x-grid", "name": "x", "password": PASSWORD,
                                                       "role": "grid_worker", "community": A, "_csrf": other_token})
        assert resp.status == 403


async def test_login_form_needs_csrf(console):
    await console.get("/console/login")
    resp = await console.post("/console/login", data={"username": "admin-a", "password": PASSWORD})
    assert resp.status == 403


async def test_logout_ends_the_session(console, db):
    csrf = await console_login(console, "admin-a")
    cookie = console.session.cookie_jar.filter_cookies(console.make_url("/console/"))["linli_console"].value
    resp = await console.post("/console/logout", data={"_csrf": csrf}, allow_redirects=False)
    assert resp.status == 302
    again = await console.get("/console/", headers={"Cookie": f"linli_console={cookie}"}, allow_redirects=False)
    assert again.status == 302  # the old cookie no longer works
    assert ("admin-a", "auth.logout") in await actions(db)


async def test_console_session_idle_timeout(make_client, db, redis):
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", A)
    client = await make_client(console_session_ttl=1)
    await console_login(client, "admin-a")
    await expired(redis, "linli:session:console:*")
    assert (await client.get("/console/", allow_redirects=False)).status == 302


async def test_staff_creation_rules_and_audit(console, db):
    csrf = await console_login(console, "admin-a")
    form = {"name": "王网格", "password": PASSWORD, "_csrf": csrf}
    created = await console.post("/console/staff", data={**form, "username": "wang", "role": "grid_worker",
                                                         "community": A}, allow_redirects=False)
    assert created.status == 302
    # a community admin cannot create admins, nor staff of another community
    assert (await console.post("/console/staff", data={**form, "username": "x1", "role": "community_admin",
                                                       "community": A})).status == 403
    assert (await console.post("/console/staff", data={**form, "username": "x2", "role": "grid_worker",
                                                       "community": B})).status == 403
    short = await console.post("/console/staff", data={**form, "password": "short", "username": "x3",
                                                       "role": "grid_worker", "community": A, "_csrf": csrf})
    assert short.status == 400 and "密码至少" in await short.text()
    assert await db.staff.count_documents({"username": {"$in": ["x1", "x2", "x3"]}}) == 0
    entry = await db.audit.find_one({"action": "staff.create"})
    assert entry["username"] == "admin-a" and entry["collection"] == "staff" and entry["before"] is None
    assert entry["after"]["username"] == "wang" and entry["after"]["community"] == A
    assert "password_hash" not in entry["after"] and entry["community"] == A
    listing = await console.get("/console/staff")
    text = await listing.text()
    assert "wang" in text and "admin-b" not in text and "root" not in text


async def test_street_admin_creates_in_its_street(console, db):
    csrf = await console_login(console, "street")
    form = {"name": "n", "password": PASSWORD, "_csrf": csrf}
    ok = await console.post("/console/staff", data={**form, "username": "b-admin2", "role": "community_admin",
                                                    "community": B}, allow_redirects=False)
    assert ok.status == 302
    other_street = await console.post("/console/staff", data={**form, "username": "z", "role": "grid_worker",
                                                              "community": "xiangmihu-zhuyuan"})
    assert other_street.status == 403
    assert (await console.post("/console/staff", data={**form, "username": "s2", "role": "street_admin",
                                                       "street": "huafu"})).status == 403


async def test_deactivation_is_audited_and_ends_sessions(console, db):
    async with other_browser(console) as grid_client:
        await _deactivation(console, grid_client, db)


async def _deactivation(console, grid_client, db) -> None:
    grid = await db.staff.find_one({"username": "grid-a"})
    await console_login(grid_client, "grid-a")
    csrf = await console_login(console, "admin-a")
    resp = await console.post(f"/console/staff/{grid['_id']}/active", data={"active": "0", "_csrf": csrf},
                              allow_redirects=False)
    assert resp.status == 302
    assert (await db.staff.find_one({"_id": grid["_id"]}))["active"] is False
    assert (await grid_client.get("/console/", allow_redirects=False)).status == 302
    entry = await db.audit.find_one({"action": "staff.deactivate"})
    assert entry["record_id"] == grid["_id"] and entry["before"]["active"] is True and entry["after"]["active"] is False
    # out of scope (another community's admin) and self-changes are refused
    admin_b = await db.staff.find_one({"username": "admin-b"})
    assert (await console.post(f"/console/staff/{admin_b['_id']}/active", data={"active": "0", "_csrf": csrf})).status == 404
    me = await db.staff.find_one({"username": "admin-a"})
    assert (await console.post(f"/console/staff/{me['_id']}/active", data={"active": "0", "_csrf": csrf})).status == 403
    # a deactivated account cannot log in
    page = await grid_client.get("/console/login")
    again = await grid_client.post("/console/login", data={"username": "grid-a", "password": PASSWORD,
                                                            "_csrf": csrf_of(await page.text())})
    assert again.status == 401


async def test_every_staff_action_is_audited_and_admins_see_their_scope(console, db):
    resident = {"_id": "r1", "user_keys": ["mp:r1"], "community": A, "phone": "13812341234", "building": "3栋501"}
    await db.residents.insert_one(resident)
    csrf = await console_login(console, "admin-a")
    await console.post("/console/staff", data={"username": "wang", "name": "王", "password": PASSWORD,
                                               "role": "grid_worker", "community": A, "_csrf": csrf})
    wang = await db.staff.find_one({"username": "wang"})
    await console.post(f"/console/staff/{wang['_id']}/active", data={"active": "0", "_csrf": csrf})
    await console.post(f"/console/staff/{wang['_id']}/active", data={"active": "1", "_csrf": csrf})
    await console.post("/console/residents/r1", data={"phone": "13900001111", "building": "3栋502", "_csrf": csrf})
    await console.post("/console/logout", data={"_csrf": csrf})
    assert await actions(db) == [
        ("admin-a", "auth.login"), ("admin-a", "staff.create"), ("admin-a", "staff.deactivate"),
        ("admin-a", "staff.activate"), ("admin-a", "resident.update"), ("admin-a", "auth.logout"),
    ]
    update = await db.audit.find_one({"action": "resident.update"})
    assert update["before"]["phone"] == "13812341234" and update["after"]["phone"] == "13900001111"
    assert update["resident_id"] == "r1" and update["community"] == A
    # admin of A sees these entries, admin of B does not; the street admin sees both communities
    csrf = await console_login(console, "admin-a")
    page = await (await console.get("/console/audit")).text()
    assert CREATE in page and UPDATE in page and "13900001111" in page
    await console.post("/console/logout", data={"_csrf": csrf})
    csrf = await console_login(console, "admin-b")
    page = await (await console.get("/console/audit")).text()
    assert CREATE not in page and UPDATE not in page
    await console.post("/console/logout", data={"_csrf": csrf})
    await console_login(console, "street")
    page = await (await console.get("/console/audit?action=staff.create")).text()
    assert CREATE in page and UPDATE not in page
    assert len(await AuditLog(db).list({}, limit=100)) == await db.audit.count_documents({})


async def test_audit_entries_never_hold_secrets(db):
    from storage.staff import Staff

    staff = Staff("s1", "u", "n", "sysadmin")
    await AuditLog(db).record(staff, "x.change", "things", "t1",
                              {"password_hash": "h", "nested": {"token": "t", "ok": 1}}, {"session_key": "k", "v": 2})
    entry = await db.audit.find_one({})
    assert entry["before"] == {"nested": {"ok": 1}} and entry["after"] == {"v": 2}


async def test_demo_accounts_are_seeded_once(make_client, db, monkeypatch):
    from storage.seed import demo_staff_accounts, seed_demo_staff

    await seed_places(db)
    monkeypatch.setenv("LINLI_DEMO_PASSWORD", "demo-password-123")
    await seed_demo_staff(db)
    await seed_demo_staff(db)  # idempotent
    assert await db.staff.count_documents({}) == len(demo_staff_accounts()) == 12
    roles = {d["username"]: (d["role"], d["community"], d["street"]) async for d in db.staff.find({})}
    assert roles["admin-tianmian"] == ("community_admin", "huafu-tianmian", "huafu")
    assert roles["street-huafu"] == ("street_admin", None, "huafu") and roles["sysadmin"][0] == "sysadmin"
    client = await make_client()
    await console_login(client, "grid-tianmian", "demo-password-123")


# -- lockout per (username, client), proxies, unlock (issue 13, M3) -------------------

PROXY = "127.0.0.1"  # the test client connects from here: it plays the reverse proxy


async def _attempt(client, username: str, password: str, forwarded_for: str | None = None):
    token = csrf_of(await (await client.get("/console/login")).text())
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return await client.post("/console/login", data={"username": username, "password": password, "_csrf": token},
                             headers=headers, allow_redirects=False)


@pytest_asyncio.fixture
async def behind_proxy(make_client, db):
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", A)
    await make_staff(db, "root", "sysadmin")
    return await make_client(trusted_proxies=(PROXY,))


async def test_an_attacker_cannot_lock_the_account_for_everyone(behind_proxy):
    for _ in range(5):
        last = await _attempt(behind_proxy, "root", "guess", forwarded_for="203.0.113.66")
    assert last.status == 429 and "锁定" in await last.text()
    assert (await _attempt(behind_proxy, "root", PASSWORD, forwarded_for="203.0.113.66")).status == 429
    # the real sysadmin, from their own address, is not locked out
    assert (await _attempt(behind_proxy, "root", PASSWORD, forwarded_for="198.51.100.7")).status == 302


async def test_repeated_locks_back_off(behind_proxy, redis):
    first = second = None
    for round_ in range(2):
        for _ in range(5):
            resp = await _attempt(behind_proxy, "admin-a", "guess", forwarded_for="203.0.113.9")
        if round_ == 0:
            first = int(resp.headers["Retry-After"])
            await behind_proxy.app[keys.LOGIN_GUARD].pairs.succeeded("admin-a|203.0.113.9")
            await redis.delete("linli:login:pair:lock:admin-a|203.0.113.9")  # the first lock has run out
        else:
            second = int(resp.headers["Retry-After"])
    assert resp.status == 429
    assert second >= 2 * first - 1


async def test_forwarded_for_counts_only_from_trusted_proxies(make_client, db):
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", A)
    direct = await make_client()  # no trusted proxy: X-Forwarded-For is the client's own claim
    for n in range(5):  # a new forged address each time does not dodge the lock
        last = await _attempt(direct, "admin-a", "guess", forwarded_for=f"203.0.113.{n}")
    assert last.status == 429


async def test_staff_unlock_an_account_in_the_console(behind_proxy, db):
    for _ in range(5):
        await _attempt(behind_proxy, "admin-a", "guess", forwarded_for="203.0.113.66")
    assert (await _attempt(behind_proxy, "admin-a", PASSWORD, forwarded_for="203.0.113.66")).status == 429
    async with other_browser(behind_proxy) as browser:
        page = await browser.get("/console/login")
        token = csrf_of(await page.text())
        resp = await browser.post("/console/login", data={"username": "root", "password": PASSWORD, "_csrf": token},
                                  allow_redirects=False)
        assert resp.status == 302
        staff_page = await (await browser.get("/console/staff")).text()
        assert "203.0.113.66" in staff_page and "解除锁定" in staff_page
        admin = await db.staff.find_one({"username": "admin-a"})
        csrf = csrf_of(staff_page)
        resp = await browser.post(f"/console/staff/{admin['_id']}/unlock", data={"_csrf": csrf}, allow_redirects=False)
        assert resp.status == 302
    assert (await _attempt(behind_proxy, "admin-a", PASSWORD, forwarded_for="203.0.113.66")).status == 302
    entry = await db.audit.find_one({"action": "staff.unlock"})
    assert entry["username"] == "root" and entry["before"]["locked_clients"] == ["203.0.113.66"]


async def test_grid_workers_cannot_unlock(console, db):
    csrf = await console_login(console, "grid-a")
    admin = await db.staff.find_one({"username": "admin-a"})
    resp = await console.post(f"/console/staff/{admin['_id']}/unlock", data={"_csrf": csrf}, allow_redirects=False)
    assert resp.status == 403


async def test_console_login_has_its_own_rate_limit(make_client, db):
    await seed_places(db)
    await make_staff(db, "admin-a", "community_admin", A)
    client = await make_client(rate_login_per_minute=2, login_max_failures=100)
    assert (await _attempt(client, "x1", "y")).status == 401
    assert (await _attempt(client, "x2", "y")).status == 401
    limited = await _attempt(client, "admin-a", PASSWORD)
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0


async def test_console_errors_are_html_pages(console, monkeypatch):
    from storage.staff import StaffRepository

    async def broken(*args, **kwargs):
        raise RuntimeError("boom")

    await console_login(console, "admin-a")
    monkeypatch.setattr(StaffRepository, "list", broken)
    resp = await console.get("/console/staff")
    assert resp.status == 500
    assert resp.content_type == "text/html" and "系统出错了" in await resp.text()
