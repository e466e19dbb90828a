"""Points through the mini-program API and the staff console: the 积分存折, idempotent
redemptions, pickup by code, awards and reversals by staff (audited, scoped), the 荣誉榜
and the OpenAPI description."""
from __future__ import annotations

import asyncio
import re

import pytest

from services.points import seed_points
from tests.api_helpers import (  # noqa: F401  (fixtures)
    api, bearer, console_login, fake_mp, fast_argon2, login, make_staff,
)
from tests.test_sharing_api import staff_browser  # noqa: F401  (fixture)

A, B = "huafu-tianmian", "huafu-xintian"
REDEEM = "/api/v1/points/redemptions"


@pytest.fixture
async def setup(api, fake_mp, db):
    await seed_points(db, [A, B])
    token = bearer(await login(api, fake_mp, "openid-bob"))
    bob = await db["residents"].find_one({"user_keys": "mp:openid-bob"})
    await make_staff(db, "admin-a", "community_admin", A)
    await make_staff(db, "admin-b", "community_admin", B)
    await make_staff(db, "grid-a", "grid_worker", A)
    return token, bob["_id"]


async def staff_client(staff_browser, api, username: str):
    client = await staff_browser(api)
    return client, await console_login(client, username)


async def award_form(client, resident_id: str) -> str:
    page = await client.get(f"/console/points/residents/{resident_id}")
    assert page.status == 200
    match = re.search(r'name="key" value="([0-9a-f]+)"', await page.text())
    assert match
    return match.group(1)


async def award_60_and_reserve(api, token, admin, csrf: str, resident_id: str, item_name: str,
                               idempotency_key: str) -> tuple[dict, dict]:
    """Staff award the resident 60 points, who then reserves the shop's `item_name`: the item as
    the shop listed it, and the reservation."""
    form = {"_csrf": csrf, "key": await award_form(admin, resident_id), "points": "60", "reason": "志愿服务"}
    await admin.post(f"/console/points/residents/{resident_id}/award", data=form)
    shop = await (await api.get("/api/v1/points/shop", headers=token)).json()
    item = next(item for item in shop["items"] if item["name"] == item_name)
    body = {"item_id": item["id"], "idempotency_key": idempotency_key}
    reservation = await (await api.post(REDEEM, headers=token, json=body)).json()
    return item, reservation


async def test_award_redeem_pickup_and_reverse(api, staff_browser, db, setup):
    token, bob_id = setup
    assert (await (await api.get("/api/v1/points", headers=token)).json()) == {"balance": 0, "history": []}
    admin, csrf = await staff_client(staff_browser, api, "admin-a")
    key = await award_form(admin, bob_id)
    form = {"_csrf": csrf, "key": key, "points": "30", "reason": "社区清洁志愿服务"}
    for _ in range(2):  # a resubmitted form is a replay, credited once
        resp = await admin.post(f"/console/points/residents/{bob_id}/award", data=form, allow_redirects=False)
        assert resp.status == 302
    passbook = await (await api.get("/api/v1/points", headers=token)).json()
    assert passbook["balance"] == 30 and passbook["history"][0]["memo"] == "社区清洁志愿服务"
    assert await db["audit"].count_documents({"action": "points.award"}) == 1

    paged = await api.get("/api/v1/points?limit=1&offset=0", headers=token)  # query numbers are strings
    assert paged.status == 200 and len((await paged.json())["history"]) == 1
    assert len((await (await api.get("/api/v1/points?offset=1", headers=token)).json())["history"]) == 0

    shop = await (await api.get("/api/v1/points/shop", headers=token)).json()
    soap = next(item for item in shop["items"] if item["name"] == "洗衣皂")
    assert soap["points"] == 20 and soap["stock"] == 50
    body = {"item_id": soap["id"], "idempotency_key": "tap-000001"}
    first = await api.post(REDEEM, headers=token, json=body)
    again = await api.post(REDEEM, headers=token, json=body)
    assert first.status == again.status == 201
    reservation = await first.json()
    assert (await again.json())["id"] == reservation["id"] and reservation["state"] == "reserved"
    assert len(reservation["code"]) == 6
    assert (await (await api.get("/api/v1/points", headers=token)).json())["balance"] == 10
    error = (await (await api.post(REDEEM, headers=token, json={**body, "idempotency_key": "tap-000002"})).json())["error"]
    assert error["code"] == "insufficient_points" and "积分不够" in error["message"]

    # Staff of another community cannot hand it over; staff of the community can, by code.
    other, other_csrf = await staff_client(staff_browser, api, "admin-b")
    resp = await other.post("/console/points/pickup", data={"_csrf": other_csrf, "code": reservation["code"]})
    assert resp.status == 404
    grid, grid_csrf = await staff_client(staff_browser, api, "grid-a")
    page = await (await grid.get("/console/points")).text()
    assert reservation["code"] in page
    resp = await grid.post("/console/points/pickup", data={"_csrf": grid_csrf, "code": reservation["code"].lower()})
    assert resp.status == 200 and "已核销" in await resp.text()
    mine = await (await api.get(REDEEM, headers=token)).json()
    assert mine["redemptions"][0]["state"] == "fulfilled"
    resp = await api.post(f"{REDEEM}/{reservation['id']}/cancel", headers=token)
    assert resp.status == 409 and (await resp.json())["error"]["code"] == "bad_state"
    assert await db["audit"].count_documents({"action": "points.redemption.confirm"}) == 1

    # Grid workers do not award; admins reverse an earning once the resident has the points.
    resp = await grid.post(f"/console/points/residents/{bob_id}/award",
                           data={"_csrf": grid_csrf, "key": "k" * 32, "points": "5", "reason": "x"})
    assert resp.status == 403
    entry = await db["ledger_entries"].find_one({"kind": "award"})
    resp = await admin.post(f"/console/points/entries/{entry['_id']}/reverse", data={"_csrf": csrf, "reason": "录错了"})
    assert resp.status == 409 and "已花掉" in await resp.text()  # 30 awarded, 20 spent: only 10 left
    assert await db["ledger_entries"].count_documents({"kind": "reversal", "state": "applied"}) == 0
    # Once the resident has the points again, the reversal goes through (a new attempt, not a replay).
    await admin.post(f"/console/points/residents/{bob_id}/award",
                     data={"_csrf": csrf, "key": await award_form(admin, bob_id), "points": "25", "reason": "值守"})
    resp = await admin.post(f"/console/points/entries/{entry['_id']}/reverse", data={"_csrf": csrf, "reason": "录错了"},
                            allow_redirects=False)
    assert resp.status == 302
    assert (await (await api.get("/api/v1/points", headers=token)).json())["balance"] == 5
    assert await db["audit"].count_documents({"action": "points.reverse"}) == 1


async def test_cancel_a_redemption_and_the_leaderboard(api, staff_browser, db, setup):
    token, bob_id = setup
    admin, csrf = await staff_client(staff_browser, api, "admin-a")
    haircut, reservation = await award_60_and_reserve(api, token, admin, csrf, bob_id, "社区理发券", "tap-haircut-1")
    cancelled = await (await api.post(f"{REDEEM}/{reservation['id']}/cancel", headers=token)).json()
    assert cancelled["state"] == "voided"
    assert (await (await api.get("/api/v1/points", headers=token)).json())["balance"] == 60
    item = await db["shop_items"].find_one({"_id": haircut["id"]})
    assert item["stock"] == haircut["stock"] and item["holds"] == []
    board = await (await api.get("/api/v1/points/leaderboard", headers=token)).json()
    assert board["rows"] == [{"rank": 1, "name": f"邻居{bob_id[-4:]}", "points": 60, "me": True}]
    console_board = await (await admin.get("/console/points")).text()
    assert f">邻居{bob_id[-4:]}</a></td><td>60</td>" in console_board  # the 荣誉榜 of their community
    resp = await admin.get("/console/points", params={"month": "2026-99"})
    assert resp.status == 400 and "YYYY-MM" in await resp.text()
    # An item of another community cannot be redeemed.
    other_item = f"{B}-soap"
    resp = await api.post(REDEEM, headers=token, json={"item_id": other_item, "idempotency_key": "tap-other-1"})
    assert resp.status == 404


@pytest.mark.parametrize(
    "body,code",
    [
        ({"item_id": "x"}, "invalid_idempotency_key"),
        ({"item_id": {"$ne": None}, "idempotency_key": "tap-000001"}, "invalid_item_id"),
        ({"item_id": "x", "idempotency_key": "短"}, "invalid_idempotency_key"),
        ({"item_id": "x", "idempotency_key": "tap-000001", "points": 1}, "invalid_body"),
    ],
)
async def test_bad_redemptions_are_refused(api, setup, db, body, code):
    token, _ = setup
    resp = await api.post(REDEEM, headers=token, json=body)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == code
    assert await db["shop_reservations"].count_documents({}) == 0


async def test_query_errors_and_openapi(api, setup):
    token, _ = setup
    assert (await api.get("/api/v1/points/leaderboard", headers=token, params={"month": "2026-13"})).status == 400
    assert (await api.get("/api/v1/points/leaderboard", headers=token, params={"month": "26-1"})).status == 400
    assert (await api.get("/api/v1/points", headers=token, params={"limit": "-1"})).status == 400
    assert (await api.get("/api/v1/points")).status == 401
    document = await (await api.get("/api/v1/openapi.json")).json()
    for path in ("/api/v1/points", "/api/v1/points/redemptions", "/api/v1/sharing/posts",
                 "/api/v1/sharing/posts/{id}/borrow", "/api/v1/help-requests/{id}/{action}"):
        assert path in document["paths"], path
    assert "RedeemRequest" in document["components"]["schemas"]


async def test_staff_manage_shop_items_and_rules(api, staff_browser, db, setup):
    token, _ = setup
    await make_staff(db, "street", "street_admin", street="huafu")
    admin, csrf = await staff_client(staff_browser, api, "admin-a")
    resp = await admin.post("/console/points/items", data={"_csrf": csrf, "community": B, "name": "酱油", "points": "30", "stock": "5"})
    assert resp.status == 400  # not their community
    resp = await admin.post("/console/points/items", data={"_csrf": csrf, "community": A, "name": "酱油", "points": "30", "stock": "5"})
    assert resp.status == 200 and "已上架" in await resp.text()
    item = await db["shop_items"].find_one({"name": "酱油"})
    resp = await admin.post(f"/console/points/items/{item['_id']}",
                            data={"_csrf": csrf, "points": "35", "restock": "-9", "active": "on"})
    assert resp.status == 400 and "库存不够减" in await resp.text()
    await admin.post(f"/console/points/items/{item['_id']}", data={"_csrf": csrf, "points": "35", "restock": "3", "active": "on"})
    assert (await db["shop_items"].find_one({"_id": item["_id"]}))["stock"] == 8
    resp = await admin.post("/console/points/rules/report.valid", data={"_csrf": csrf, "points": "50", "active": "on"})
    assert resp.status == 403
    street, street_csrf = await staff_client(staff_browser, api, "street")
    resp = await street.post("/console/points/rules/report.valid", data={"_csrf": street_csrf, "points": "8", "active": "on"})
    assert resp.status == 200
    assert (await db["points_rules"].find_one({"_id": "report.valid"}))["points"] == 8
    assert await db["audit"].count_documents({"action": {"$in": ["points.item.create", "points.item.update",
                                                                 "points.rule.update"]}}) == 3


async def test_five_concurrent_console_voids_answer_once_and_audit_once(api, staff_browser, db, setup):
    """Issue 13, L4."""
    token, bob_id = setup
    admin, csrf = await staff_client(staff_browser, api, "admin-a")
    _, reservation = await award_60_and_reserve(api, token, admin, csrf, bob_id, "洗衣皂", "tap-void-1")

    async def void() -> int:
        resp = await admin.post(f"/console/points/reservations/{reservation['id']}/void",
                                data={"_csrf": csrf, "reason": "居民不要了"}, allow_redirects=False)
        return resp.status

    statuses = await asyncio.gather(*(void() for _ in range(5)))
    assert statuses.count(200) == 1 and all(s == 409 for s in statuses if s != 200), statuses
    assert await db["audit"].count_documents({"action": "points.redemption.void"}) == 1
    assert (await (await api.get("/api/v1/points", headers=token)).json())["balance"] == 60
