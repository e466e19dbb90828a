"""共享社区 through the mini-program API and the staff console: borrowing with a waiting
list, help requests earning points through the app's event subscriptions, content check
errors, reports and hiding by staff within their scope."""
from __future__ import annotations

from datetime import timedelta

import aiohttp
import pytest

from services.content_check import seed_words
from services.points import seed_points
from services.sharing import today
from tests.api_helpers import (  # noqa: F401  (fixtures)
    api, bearer, console_login, fake_mp, fast_argon2, login, make_staff,
)

A, B = "huafu-tianmian", "huafu-xintian"
POSTS = "/api/v1/sharing/posts"


@pytest.fixture
async def staff_browser():
    """Another browser (its own cookies) on the same app: one app per test, as in production
    several staff members use one server."""
    sessions: list[aiohttp.ClientSession] = []

    async def make(client) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(base_url=client.make_url(""), cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()


@pytest.fixture
async def people(api, fake_mp, db):
    await seed_words(db)
    await seed_points(db, [A, B])
    return {name: bearer(await login(api, fake_mp, f"openid-{name}")) for name in ("owner", "ann", "bob")}


async def error_of(resp, status: int) -> dict:
    assert resp.status == status, await resp.text()
    error = (await resp.json())["error"]
    assert error["message"] and error["detail"]
    return error


async def test_borrow_workflow_through_the_api(api, people, db):
    owner, ann, bob = people["owner"], people["ann"], people["bob"]
    resp = await api.post(POSTS, headers=owner, json={"kind": "item", "mode": "lend", "title": "折叠桌椅一套",
                                                      "condition": "九成新", "availability": "周末"})
    assert resp.status == 201, await resp.text()
    post = await resp.json()
    assert post["state"] == "available" and post["mine"] is True

    found = await (await api.get(POSTS, headers=ann, params={"q": "谁家有桌椅"})).json()
    assert [p["id"] for p in found["posts"]] == [post["id"]] and found["posts"][0]["mine"] is False
    start = today() + timedelta(days=1)
    body = {"start": start.isoformat(), "end": (start + timedelta(days=1)).isoformat(), "note": "周六办酒席用"}
    loan = await (await api.post(f"{POSTS}/{post['id']}/borrow", headers=ann, json=body)).json()
    assert loan["state"] == "requested" and loan["waiting_position"] == 0 and loan["role"] == "borrower"
    queued = await (await api.post(f"{POSTS}/{post['id']}/borrow", headers=bob, json=body)).json()
    assert queued["state"] == "requested"

    owned = await (await api.get("/api/v1/sharing/loans", headers=owner, params={"role": "owner"})).json()
    assert {item["id"] for item in owned["loans"]} == {loan["id"], queued["id"]}
    assert (await api.post(f"/api/v1/sharing/loans/{loan['id']}/accept", headers=ann)).status == 404  # not the owner
    accepted = await (await api.post(f"/api/v1/sharing/loans/{loan['id']}/accept", headers=owner)).json()
    assert accepted["state"] == "accepted"
    mine = await (await api.get("/api/v1/sharing/loans", headers=bob)).json()
    assert mine["loans"][0]["state"] == "waiting"
    error = await error_of(await api.post(f"/api/v1/sharing/loans/{loan['id']}/return", headers=owner), 409)
    assert error["code"] == "bad_state"
    for action, state in (("hand-over", "handed_over"), ("return", "returned")):
        resp = await api.post(f"/api/v1/sharing/loans/{loan['id']}/{action}", headers=owner)
        assert (await resp.json())["state"] == state
    mine = await (await api.get("/api/v1/sharing/loans", headers=bob)).json()
    assert mine["loans"][0]["state"] == "requested"  # moved up from the waiting list
    bob_id = (await db["residents"].find_one({"user_keys": "mp:openid-bob"}))["_id"]
    assert any("轮到您了" in n["text"] for n in await db["notices"].find({"resident_id": bob_id}).to_list(50))


@pytest.mark.parametrize(
    "body,status,code",
    [
        ({"kind": "car", "title": "梯子"}, 400, "invalid_kind"),
        ({"kind": "item", "title": {"$gt": ""}}, 400, "invalid_title"),
        ({"kind": "item", "title": "梯子", "owner_id": "x"}, 400, "invalid_body"),
        ({"kind": "item", "title": "梯子", "photo_url": "javascript:alert(1)"}, 400, "invalid_photo_url"),
        ({"kind": "item", "title": "代开发票"}, 422, "content_blocked_word"),
        ({"kind": "skill", "title": "修空调", "availability": "电话 13912345678"}, 422, "content_phone_number"),
    ],
)
async def test_bad_posts_are_refused_and_nothing_is_stored(api, people, db, body, status, code):
    error = await error_of(await api.post(POSTS, headers=people["owner"], json=body), status)
    assert error["code"] == code
    assert await db["share_posts"].count_documents({}) == 0


async def test_borrow_input_errors(api, people):
    post = await (await api.post(POSTS, headers=people["owner"], json={"kind": "item", "title": "电钻"})).json()
    url = f"{POSTS}/{post['id']}/borrow"
    assert (await error_of(await api.post(url, headers=people["ann"], json={"start": "明天", "end": "后天"}), 400))["code"] == "invalid_start"
    past = (today() - timedelta(days=3)).isoformat()
    assert (await error_of(await api.post(url, headers=people["ann"], json={"start": past, "end": past}), 400))["code"] == "invalid_start"
    day = today().isoformat()
    assert (await error_of(await api.post(url, headers=people["owner"], json={"start": day, "end": day}), 400))["code"] == "own_post"
    assert (await api.post(f"{POSTS}/nope/borrow", headers=people["ann"], json={"start": day, "end": day})).status == 404
    assert (await api.post(f"{POSTS}/{'0' * 24}/borrow", headers=people["ann"], json={"start": day, "end": day})).status == 404


async def test_help_request_completion_credits_the_volunteer(api, people):
    ann, bob = people["ann"], people["bob"]
    resp = await api.post("/api/v1/help-requests", headers=ann,
                          json={"kind": "groceries", "details": "帮忙带一把青菜和两斤鸡蛋", "when": "明天上午"})
    assert resp.status == 201
    ask = await resp.json()
    listed = await (await api.get("/api/v1/help-requests", headers=bob)).json()
    assert [h["id"] for h in listed["help_requests"]] == [ask["id"]]
    taken = await (await api.post(f"/api/v1/help-requests/{ask['id']}/take", headers=bob)).json()
    assert taken["state"] == "taken" and taken["role"] == "volunteer"
    error = await error_of(await api.post(f"/api/v1/help-requests/{ask['id']}/take", headers=people["owner"]), 409)
    assert error["code"] == "help_taken"
    assert (await api.post(f"/api/v1/help-requests/{ask['id']}/complete", headers=bob)).status == 404
    done = await (await api.post(f"/api/v1/help-requests/{ask['id']}/complete", headers=ann)).json()
    assert done["state"] == "completed"
    points = await (await api.get("/api/v1/points", headers=bob)).json()
    assert points["balance"] == 10 and points["history"][0]["memo"] == "帮邻居完成求助"


async def test_reported_post_hidden_by_staff_in_scope(api, staff_browser, people, db):
    post = await (await api.post(POSTS, headers=people["owner"], json={"kind": "skill", "title": "上门修电脑"})).json()
    resp = await api.post(f"{POSTS}/{post['id']}/report", headers=people["ann"], json={"reason": "像是广告"})
    assert (await resp.json()) == {"reported": True, "new": True}
    await make_staff(db, "admin-b", "community_admin", B)
    await make_staff(db, "grid-a", "grid_worker", A)
    other = await staff_browser(api)
    csrf_b = await console_login(other, "admin-b")
    assert "上门修电脑" not in await (await other.get("/console/sharing")).text()  # another community
    resp = await other.post(f"/console/sharing/post/{post['id']}/hide", data={"_csrf": csrf_b, "reason": "x"},
                            allow_redirects=False)
    assert resp.status == 404

    staff = await staff_browser(api)
    csrf = await console_login(staff, "grid-a")
    page = await (await staff.get("/console/sharing")).text()
    assert "上门修电脑" in page
    resp = await staff.post(f"/console/sharing/post/{post['id']}/hide", data={"_csrf": csrf, "reason": ""},
                            allow_redirects=False)
    assert resp.status == 400 and "请填写隐藏原因" in await resp.text()
    resp = await staff.post(f"/console/sharing/post/{post['id']}/hide", data={"_csrf": csrf, "reason": "疑似广告"},
                            allow_redirects=False)
    assert resp.status == 302
    assert (await (await api.get(POSTS, headers=people["bob"], params={"q": "修电脑"})).json())["posts"] == []
    assert (await api.get(f"{POSTS}/{post['id']}", headers=people["bob"])).status == 404
    audit = await db["audit"].find_one({"action": "sharing.post.hide"})
    assert audit["record_id"] == post["id"] and audit["after"]["reason"] == "疑似广告" and audit["community"] == A
    # Without the CSRF field nothing happens.
    resp = await staff.post(f"/console/sharing/post/{post['id']}/show", data={}, allow_redirects=False)
    assert resp.status == 403
    assert (await db["share_posts"].find_one({"_id": post["id"]}))["hidden"] is True


async def test_word_list_is_kept_by_street_admins(api, staff_browser, people, db):
    await make_staff(db, "admin-a", "community_admin", A)
    await make_staff(db, "street", "street_admin", street="huafu")
    admin = await staff_browser(api)
    csrf = await console_login(admin, "admin-a")
    resp = await admin.post("/console/sharing/words", data={"_csrf": csrf, "word": "保健品", "reason": "推销"},
                            allow_redirects=False)
    assert resp.status == 403
    street = await staff_browser(api)
    csrf = await console_login(street, "street")
    resp = await street.post("/console/sharing/words", data={"_csrf": csrf, "word": "保健品", "reason": "推销"},
                             allow_redirects=False)
    assert resp.status == 302
    assert "保健品" in await (await street.get("/console/sharing/words")).text()
    error = await error_of(await api.post(POSTS, headers=people["owner"],
                                          json={"kind": "item", "mode": "give", "title": "进口保健品"}), 422)
    assert "推销" in error["message"]
