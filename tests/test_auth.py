"""Mini-program login (jscode2session at a local fake), session tokens, the API's token
check, per-user rate limits and strict JSON bodies (NoSQL operator injection)."""
from __future__ import annotations

import json

import pytest

from tests.api_helpers import api, bearer, fake_mp, fast_argon2, login, mp_settings, seed_places  # noqa: F401
from tests.waiting import expired

LOGIN = "/api/v1/auth/login"


async def error_of(resp) -> dict:
    body = await resp.json()
    assert set(body["error"]) == {"code", "message", "detail"}
    return body["error"]


async def test_login_gives_our_own_token_and_a_resident(api, fake_mp, db, redis):
    fake_mp.unionids["openid-1"] = "union-1"
    resp = await api.post(LOGIN, json={"code": fake_mp.issue("openid-1")})
    assert resp.status == 200
    body = await resp.json()
    assert set(body) == {"token", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 7 * 86400
    assert len(body["token"]) >= 40 and "openid" not in body["token"]
    sent = fake_mp.requests[-1]
    assert sent["appid"] == fake_mp.app_id and sent["secret"] == fake_mp.app_secret
    assert sent["grant_type"] == "authorization_code" and sent["js_code"].startswith("code-")
    resident = await db.residents.find_one({"user_keys": "mp:openid-1"})
    assert resident["community"] == "huafu-tianmian"
    # WeChat's session_key is kept nowhere, and Redis holds only a digest of the token.
    for key in await redis.keys("*"):
        value = await redis.get(key) if await redis.type(key) == "string" else ""
        assert "sk-openid-1" not in (value or "") and body["token"] not in key
    async for doc in db.residents.find({}):
        assert "sk-openid-1" not in json.dumps(doc, default=str)
    me = await api.get("/api/v1/me", headers=bearer(body["token"]))
    assert me.status == 200 and (await me.json())["id"] == resident["_id"]


async def test_second_login_finds_the_same_resident(api, fake_mp, db):
    first, second = await login(api, fake_mp, "openid-1"), await login(api, fake_mp, "openid-1")
    assert first != second
    assert await db.residents.count_documents({}) == 1
    for token in (first, second):
        assert (await api.get("/api/v1/me", headers=bearer(token))).status == 200


@pytest.mark.parametrize(
    "setup,status,code",
    [
        ("unknown_code", 401, "invalid_code"),  # 40029
        ("used_code", 401, "invalid_code"),  # 40029 / 40163 for a code used before
        ("rate_limited", 429, "wechat_rate_limited"),  # 45011
        ("busy", 503, "wechat_busy"),  # -1
        ("risky", 403, "risky_user"),  # 40226
        ("wrong_secret", 502, "wechat_error"),  # 40125
    ],
)
async def test_each_wechat_error(make_client, fake_mp, db, setup, status, code):
    await seed_places(db)
    client = await make_client(**mp_settings(fake_mp, mp_app_secret="wrong" if setup == "wrong_secret" else fake_mp.app_secret))
    code_value = fake_mp.issue("openid-9")
    if setup == "unknown_code":
        code_value = "no-such-code"
    elif setup == "used_code":
        fake_mp.used_code_errcode = 40163
        assert (await client.post(LOGIN, json={"code": code_value})).status == 200
    elif setup == "rate_limited":
        fake_mp.rate_limited = True
    elif setup == "busy":
        fake_mp.busy = True
    elif setup == "risky":
        fake_mp.risky.add("openid-9")
    resp = await client.post(LOGIN, json={"code": code_value})
    assert resp.status == status
    error = await error_of(resp)
    assert error["code"] == code
    if status in (429, 503):
        assert int(resp.headers["Retry-After"]) > 0
    if setup != "used_code":
        assert await db.residents.count_documents({}) == 0


async def test_login_when_not_configured(make_client):
    unconfigured = await make_client()
    resp = await unconfigured.post(LOGIN, json={"code": "abc"})
    assert resp.status == 503 and (await error_of(resp))["code"] == "login_unavailable"


async def test_login_when_wechat_is_unreachable(make_client):
    unreachable = await make_client(mp_app_id="a", mp_app_secret="b", wechat_api_base="http://127.0.0.1:9")
    resp = await unreachable.post(LOGIN, json={"code": "abc"})
    assert resp.status == 502 and (await error_of(resp))["code"] == "wechat_error"


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer"}, {"Authorization": "Bearer not-a-token"}, {"Authorization": "Basic abc"},
     {"Authorization": "Bearer " + "x" * 5000}],
)
async def test_protected_routes_need_a_valid_token(api, headers):
    resp = await api.get("/api/v1/me", headers=headers)
    assert resp.status == 401
    assert (await error_of(resp))["code"] == "unauthorized"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


async def test_public_routes_and_unknown_paths(api):
    assert (await api.get("/api/v1/communities")).status == 200
    assert (await api.get("/api/v1/openapi.json")).status == 200
    missing = await api.get("/api/v1/no-such-thing")
    assert missing.status == 404 and (await error_of(missing))["code"] == "not_found"
    wrong_method = await api.put("/api/v1/me")
    assert wrong_method.status == 405


async def test_token_expires(make_client, fake_mp, db, redis):
    await seed_places(db)
    client = await make_client(**mp_settings(fake_mp, api_session_ttl=1))
    token = await login(client, fake_mp)
    assert (await client.get("/api/v1/me", headers=bearer(token))).status == 200
    ttls = [await redis.pttl(k) for k in await redis.keys("linli:session:api:*")]
    assert ttls and all(0 < t <= 1000 for t in ttls)
    await expired(redis, "linli:session:api:*")
    resp = await client.get("/api/v1/me", headers=bearer(token))
    assert resp.status == 401


async def test_logout_ends_the_token(api, fake_mp):
    token = await login(api, fake_mp)
    assert (await api.post("/api/v1/auth/logout", headers=bearer(token))).status == 204
    assert (await api.get("/api/v1/me", headers=bearer(token))).status == 401


async def test_api_rate_limit_per_resident(make_client, fake_mp, db):
    await seed_places(db)
    client = await make_client(**mp_settings(fake_mp, rate_api_per_minute=3))
    one, two = await login(client, fake_mp, "o1"), await login(client, fake_mp, "o2")
    for _ in range(3):
        assert (await client.get("/api/v1/me", headers=bearer(one))).status == 200
    limited = await client.get("/api/v1/me", headers=bearer(one))
    assert limited.status == 429
    assert (await error_of(limited))["code"] == "rate_limited"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert (await client.get("/api/v1/me", headers=bearer(two))).status == 200  # per resident
    # public routes are limited per IP; logins have a bucket of their own (issue 13, M3)
    for _ in range(3):
        assert (await client.get("/api/v1/communities")).status == 200
    assert (await client.get("/api/v1/communities")).status == 429
    assert (await client.post(LOGIN, json={"code": fake_mp.issue("o3")})).status == 200


async def test_chat_rate_limit_per_sender(make_client):
    client = await make_client(rate_chat_per_minute=2)
    url = "/webhooks/rest/webhook"
    for _ in range(2):
        assert (await client.post(url, json={"sender": "fast", "message": "1"})).status == 200
    limited = await client.post(url, json={"sender": "fast", "message": "1"})
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
    assert (await limited.json())["error"]["code"] == "rate_limited"
    assert (await client.post(url, json={"sender": "slow", "message": "1"})).status == 200


# -- strict bodies: every JSON field of the API rejects operators and wrong types ----

INJECTIONS = [{"$gt": ""}, {"$ne": None}, {"$where": "sleep(1000)"}, {"$regex": ".*"}, ["$in"], {"$in": ["a"]}]
FIELDS = [
    ("POST", LOGIN, "code"),
    ("PATCH", "/api/v1/me", "name"),
    ("PATCH", "/api/v1/me", "phone"),
    ("PATCH", "/api/v1/me", "building"),
    ("PATCH", "/api/v1/me", "birth_year"),
    ("PATCH", "/api/v1/me", "community"),
    ("PATCH", "/api/v1/me", "disability"),
]


@pytest.mark.parametrize("method,path,field", FIELDS)
@pytest.mark.parametrize("value", INJECTIONS, ids=lambda v: json.dumps(v))
async def test_operator_injection_is_rejected(api, fake_mp, db, method, path, field, value):
    token = await login(api, fake_mp)
    before = await db.residents.find_one({})
    resp = await api.request(method, path, json={field: value}, headers=bearer(token))
    assert resp.status == 400
    assert (await error_of(resp))["code"] == f"invalid_{field}"
    assert await db.residents.find_one({}) == before
    assert await db.residents.count_documents({}) == 1


@pytest.mark.parametrize(
    "raw,code",
    [
        (b"not json", "invalid_json"),
        (b"[1, 2]", "invalid_body"),
        (b'"text"', "invalid_body"),
        (b'{"$set": {"community": "x"}}', "invalid_body"),
        (b'{"birth_year": NaN}', "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
    ],
)
async def test_bodies_must_be_plain_objects(api, fake_mp, raw, code):
    token = await login(api, fake_mp)
    resp = await api.patch("/api/v1/me", data=raw, headers={**bearer(token), "Content-Type": "application/json"})
    assert resp.status == 400 and (await error_of(resp))["code"] == code


async def test_body_size_limit(make_client, fake_mp, db):
    await seed_places(db)
    client = await make_client(**mp_settings(fake_mp, max_body_bytes=1024))
    resp = await client.post(LOGIN, data=json.dumps({"code": "x" * 4000}), headers={"Content-Type": "application/json"})
    assert resp.status == 413


async def test_logins_have_their_own_per_ip_limit(make_client, fake_mp, db):
    await seed_places(db)
    client = await make_client(**mp_settings(fake_mp, rate_login_per_minute=2))
    await login(client, fake_mp, "o1")
    await login(client, fake_mp, "o2")
    limited = await client.post(LOGIN, json={"code": fake_mp.issue("o3")})
    assert limited.status == 429 and (await error_of(limited))["code"] == "rate_limited"
    assert (await client.get("/api/v1/communities")).status == 200  # the public bucket is untouched


@pytest.mark.parametrize("body", [b"[" * 60_000, b'{"code": ' + b"[" * 5000 + b"]" * 5000 + b"}",
                                  b'{"code": "\\ud800x"}'])
async def test_hostile_json_is_a_clear_400_on_login_and_every_body(api, fake_mp, body):
    resp = await api.post(LOGIN, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == 400 and (await error_of(resp))["code"] == "invalid_json"
    token = await login(api, fake_mp)
    resp = await api.patch("/api/v1/me", data=body, headers={**bearer(token), "Content-Type": "application/json"})
    assert resp.status == 400 and (await error_of(resp))["code"] == "invalid_json"


async def test_resident_data_is_never_cached_and_the_server_is_not_named(api, fake_mp):
    token = await login(api, fake_mp)
    for path in ("/api/v1/me", "/api/v1/me/export", "/api/v1/reports"):
        resp = await api.get(path, headers=bearer(token))
        assert resp.status == 200, path
        assert resp.headers["Cache-Control"] == "no-store", path
    resp = await api.get("/api/v1/communities")
    assert "aiohttp" not in resp.headers.get("Server", "").lower()
    assert "python" not in resp.headers.get("Server", "").lower()


# -- chatting from the mini-program (issue 13, M5) ------------------------------------


async def test_mini_program_chat_speaks_as_the_logged_in_resident(api, fake_mp, db):
    token = await login(api, fake_mp, "openid-chat")
    resp = await api.post("/api/v1/chat", json={"message": "你好"}, headers=bearer(token))
    assert resp.status == 200, await resp.text()
    replies = (await resp.json())["replies"]
    assert replies and "邻里小助手" in replies[0]["text"]
    turn = await db.conversations.find_one({})
    assert turn["user_key"] == "mp:openid-chat"
    # nobody names another sender here
    spoof = await api.post("/api/v1/chat", json={"message": "你好", "sender": "victim"}, headers=bearer(token))
    assert spoof.status == 400
    assert (await api.post("/api/v1/chat", json={"message": "你好"})).status == 401
    assert await db.conversations.count_documents({}) == 1


async def test_mini_program_chat_retry_is_answered_once(api, fake_mp, db):
    token = await login(api, fake_mp)
    body = {"message": "你好", "message_id": "m-1"}
    first = await api.post("/api/v1/chat", json=body, headers=bearer(token))
    again = await api.post("/api/v1/chat", json=body, headers=bearer(token))
    assert await first.json() == await again.json()
    assert await db.conversations.count_documents({}) == 1
