"""Shared helpers for the API and console tests: the fake WeChat login server, a client
configured for it, resident login, staff accounts and console login.

Use in a test module with
    from tests.api_helpers import api, fake_mp, fast_argon2  # noqa: F401  (fixtures)
"""
from __future__ import annotations

import contextlib
import re
from typing import Any, AsyncIterator

import aiohttp

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from storage import staff as staff_module
from storage.seed import COMMUNITIES, STREET
from storage.staff import Staff, StaffRepository
from tests.fake_wechat_mp import FakeWeChatMP

PASSWORD = "correct-horse-battery"
OTHER_STREET = {"_id": "xiangmihu", "name": "香蜜湖街道"}
OTHER_COMMUNITY = ("xiangmihu-zhuyuan", "竹园社区")
CSRF_INPUT = re.compile(r'name="_csrf" value="([^"]+)"')


@pytest.fixture(autouse=True)
def fast_argon2():
    """Cheap argon2 parameters in tests (the real ones cost ~0.1-1 s per hash)."""
    old = staff_module._hasher
    staff_module.set_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    yield
    staff_module.set_hasher(old)


@pytest_asyncio.fixture
async def fake_mp():
    fake = await FakeWeChatMP().start()
    yield fake
    await fake.close()


async def seed_places(db) -> None:
    """Streets and communities (华富街道 with its 8 communities, plus another street)."""
    await db.streets.insert_many([dict(STREET), dict(OTHER_STREET)])
    await db.communities.insert_many(
        [{"_id": cid, "name": name, "street": STREET["_id"]} for cid, name in COMMUNITIES]
        + [{"_id": OTHER_COMMUNITY[0], "name": OTHER_COMMUNITY[1], "street": OTHER_STREET["_id"]}]
    )


def mp_settings(fake: FakeWeChatMP, **overrides: Any) -> dict[str, Any]:
    return {"mp_app_id": fake.app_id, "mp_app_secret": fake.app_secret, "wechat_api_base": fake.url, **overrides}


@pytest_asyncio.fixture
async def api(make_client, fake_mp, db) -> TestClient:
    """A client of an app whose mini-program login goes to the fake."""
    await seed_places(db)
    return await make_client(**mp_settings(fake_mp))


async def login(client: TestClient, fake: FakeWeChatMP, openid: str = "openid-1") -> str:
    resp = await client.post("/api/v1/auth/login", json={"code": fake.issue(openid)})
    assert resp.status == 200, await resp.text()
    return (await resp.json())["token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def make_staff(db, username: str, role: str, community: str | None = None,
                     street: str | None = None, password: str = PASSWORD) -> Staff:
    return await StaffRepository(db).create(
        username, password, name=username, role=role, community=community, street=street
    )


async def seed_places_and_staff(db, community: str) -> None:
    """The places (`seed_places`), a grid worker `grid-a` and a community admin `admin-a` of
    `community`: what most console tests start from."""
    await seed_places(db)
    await make_staff(db, "grid-a", "grid_worker", community)
    await make_staff(db, "admin-a", "community_admin", community)


def csrf_of(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def console_login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Log in through the form; the CSRF token of the new session."""
    page = await client.get("/console/login")
    token = csrf_of(await page.text())
    resp = await client.post(
        "/console/login",
        data={"username": username, "password": password, "_csrf": token, "next": "/console/"},
        allow_redirects=False,
    )
    assert resp.status == 302, await resp.text()
    home = await client.get("/console/")
    assert home.status == 200
    return csrf_of(await home.text())


@contextlib.asynccontextmanager
async def other_browser(client: TestClient) -> AsyncIterator[aiohttp.ClientSession]:
    """A second browser (own cookie jar) on the same test server."""
    session = aiohttp.ClientSession(base_url=str(client.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
    try:
        yield session
    finally:
        await session.close()


def cancellable(slots: list[dict], cutoff_hours: int = 24) -> dict:
    """The first slot that starts after the cancellation cutoff (volunteer: 24 h), whatever
    the time of day the tests run, so that cancelling it (and offering the freed place) is allowed."""
    from datetime import datetime, timedelta, timezone

    limit = datetime.now(timezone.utc) + timedelta(hours=cutoff_hours, minutes=30)
    for slot in slots:
        if slot.get("start") and datetime.fromisoformat(slot["start"]) > limit:
            return slot
    raise AssertionError(f"no slot starts after {limit.isoformat()}: {[s.get('start') for s in slots]}")
