"""Fuzzing the chat endpoints with hypothesis against a live server.

Whatever arrives, the answer is a 2xx or a clear 4xx with a JSON error — never a 5xx —
and a refused request writes nothing while an accepted one writes exactly one turn.
"""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
import uuid

import pytest
import requests
from aiohttp import web
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pymongo import MongoClient
from wechatpy.utils import WeChatSigner

from bot.app import create_app
from bot.config import Settings
from storage.servers import free_port

URL = "/webhooks/rest/webhook"
WECHAT_TOKEN = "fuzztoken"
LIVE: dict = {}  # the live app and its event loop, for set-up done inside the server

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
operators = st.sampled_from([{"$gt": ""}, {"$ne": None}, {"$where": "sleep(1000)"}, {"$regex": ".*"}, ["$in"]])
texts = st.text(min_size=0, max_size=60) | st.sampled_from(["你好", "路灯坏了", "1", "０", "👍", "\u200b", "\x00abc", "/greet"])


@pytest.fixture(scope="module")
def live(servers, nlu_service):
    """The app on a real port, served from its own thread and event loop."""
    settings = Settings(
        mongodb_uri=servers["mongodb_uri"], mongodb_db=f"linli_fuzz_{uuid.uuid4().hex[:8]}",
        redis_url=servers["redis_url"], wechat_token=WECHAT_TOKEN,
        rate_chat_per_minute=0, rate_api_per_minute=0,  # fuzzing sends far more than a person would
        rate_rest_ip_per_minute=0, rate_rest_global_per_minute=0, rate_login_per_minute=0,
    )
    port = free_port()
    loop = asyncio.new_event_loop()
    app = create_app(settings, nlu=nlu_service)
    runner = web.AppRunner(app)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(60)
    mongo = MongoClient(settings.mongodb_uri)
    LIVE["app"], LIVE["loop"], LIVE["redis_url"] = app, loop, settings.redis_url
    yield f"http://127.0.0.1:{port}", mongo[settings.mongodb_db]
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    mongo.drop_database(settings.mongodb_db)
    mongo.close()


def _check(resp: requests.Response, db, before: int) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    after = db.conversations.count_documents({})
    if resp.status_code == 200:
        assert isinstance(resp.json(), list)
        assert after == before + 1
    else:
        error = resp.json()["error"]
        assert error["code"] and error["message"]
        assert after == before


FUZZ = hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=json_values)
def test_any_json_body(live, body):
    base, db = live
    before = db.conversations.count_documents({})
    _check(requests.post(base + URL, json=body, timeout=30), db, before)


@FUZZ
@given(sender=st.text(max_size=20) | json_values | operators, message=texts | json_values | operators, metadata=json_values)
def test_any_field_values(live, sender, message, metadata):
    base, db = live
    before = db.conversations.count_documents({})
    body = {"sender": sender, "message": message, "metadata": metadata}
    _check(requests.post(base + URL, data=json.dumps(body), timeout=30), db, before)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes(live, raw):
    base, db = live
    before = db.conversations.count_documents({})
    _check(requests.post(base + URL, data=raw, headers={"Content-Type": "application/json"}, timeout=30), db, before)


# -- the WeChat endpoint: signed requests with arbitrary bodies ------------------------------------

def _signed(timestamp: int | None = None) -> dict[str, str]:
    timestamp_s, nonce = str(timestamp or int(time.time())), uuid.uuid4().hex[:10]
    signer = WeChatSigner()
    signer.add_data(WECHAT_TOKEN, timestamp_s, nonce)
    return {"signature": signer.signature, "timestamp": timestamp_s, "nonce": nonce}


xml_text = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="]"), max_size=40)
wechat_fields = st.fixed_dictionaries({
    "MsgType": st.sampled_from(["text", "voice", "image", "location", "event", "video", "link", "", "<x>"]) | xml_text,
    "Content": xml_text, "MsgId": st.integers(min_value=-2, max_value=2**63) | xml_text,
    "CreateTime": st.integers(min_value=-1, max_value=2**40) | xml_text,
    "FromUserName": xml_text, "Event": st.sampled_from(["subscribe", "CLICK", "LOCATION", "bogus"]) | xml_text,
    "Location_X": st.floats(allow_nan=True) | xml_text, "Recognition": xml_text,
})


def _wechat_check(resp: requests.Response, db, before: int) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    if resp.status_code >= 400:
        assert db.conversations.count_documents({}) == before  # a refused message writes nothing
    else:
        assert db.conversations.count_documents({}) <= before + 1  # at most one turn per message


@FUZZ
@given(fields=wechat_fields)
def test_wechat_any_message_fields(live, fields):
    base, db = live
    body = "<xml><ToUserName><![CDATA[gh_fuzz]]></ToUserName>" + "".join(
        f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items()) + "</xml>"
    before = db.conversations.count_documents({})
    _wechat_check(requests.post(base + "/wechat", params=_signed(), data=body.encode("utf-8"), timeout=30), db, before)


@FUZZ
@given(raw=st.binary(max_size=400) | xml_text.map(lambda t: t.encode("utf-8")))
def test_wechat_any_bytes(live, raw):
    base, db = live
    before = db.conversations.count_documents({})
    _wechat_check(requests.post(base + "/wechat", params=_signed(), data=raw, timeout=30), db, before)


@FUZZ
@given(query=st.dictionaries(st.sampled_from(["signature", "timestamp", "nonce", "echostr", "msg_signature",
                                               "encrypt_type", "openid"]), xml_text, max_size=6))
def test_wechat_any_query(live, query):
    base, _ = live
    for method in (requests.get, requests.post):
        resp = method(base + "/wechat", params=query, data=b"<xml></xml>", timeout=30)
        assert resp.status_code < 500, (resp.status_code, resp.text[:300])
        if not query.get("signature"):
            assert resp.status_code in (400, 403)


# -- the mini-program API: every documented JSON body, fuzzed ---------------------------------------

def _api_token(live) -> str:
    """A resident's session token, made the way login makes one (the fake WeChat login is tested elsewhere)."""
    from bot import keys
    from storage.residents import ResidentRepository

    async def make() -> str:
        app = LIVE["app"]
        resident = await ResidentRepository(app[keys.MONGO]).for_user_key("mp:fuzzer", "huafu-tianmian")
        return await app[keys.API_SESSIONS].create({"resident_id": resident.id, "user_key": "mp:fuzzer"},
                                                   owner=resident.id)

    return asyncio.run_coroutine_threadsafe(make(), LIVE["loop"]).result(30)


def _json_operations(base: str) -> list[tuple[str, str]]:
    spec = requests.get(base + "/api/v1/openapi.json", timeout=30).json()
    ops = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if path == "/api/v1/auth/login":
                continue  # needs the fake WeChat login server: tests/test_auth.py covers its bodies
            if method in ("post", "put", "patch") and "application/json" in (op.get("requestBody") or {}).get(
                    "content", {}):
                ops.append((method.upper(), path))
    return sorted(ops)


@pytest.fixture(scope="module")
def api_ops(live):
    base, _ = live
    ops = _json_operations(base)
    assert len(ops) >= 10, ops  # the document lists the API's JSON bodies
    return ops, _api_token(live)


path_ids = st.sampled_from(["5f" * 12, "R20260101-0001", "elderly_meal", "x", "%24gt", "0"])


@FUZZ
@given(data=st.data(), body=json_values | st.dictionaries(st.text(max_size=12), json_values | operators, max_size=5))
def test_api_any_json_body(live, api_ops, data, body):
    base, _ = live
    ops, token = api_ops
    method, path = data.draw(st.sampled_from(ops))
    url = base + re.sub(r"\{[^}]+\}", lambda _: data.draw(path_ids), path)
    resp = requests.request(method, url, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert resp.status_code < 500, (method, path, body, resp.status_code, resp.text[:300])
    if resp.status_code >= 400:
        error = resp.json()["error"]
        assert error["code"] and error["message"]



# -- hostile shapes (issue 13, M6): deep nesting, lone surrogates, extreme dates -------------------

def _nested(depth: int, kind: str) -> bytes:
    """Nesting `depth` deep, kept under the 64 KB body limit (so the parser is what is tested)."""
    if kind == "list":
        depth = min(depth, 30_000)
        return b"[" * depth + b"]" * depth
    if kind == "open":
        return b"[" * depth  # never closed, as in the probe
    depth = min(depth, 8_000)
    return b'{"a": ' * depth + b"1" + b"}" * depth


deep_json = st.builds(_nested, st.integers(min_value=40, max_value=60_000), st.sampled_from(["list", "open", "dict"]))
surrogate = st.sampled_from(["\\ud800", "\\udfff", "\\ud83d", "x\\udc00y", "\\ud800x"])


def _with_surrogate(where: str, escape: str) -> bytes:
    fields = {"sender": '"u-fuzz"', "message": '"你好"', "metadata": "{}"}
    if where == "metadata-key":
        fields["metadata"] = '{"' + escape + '": 1}'
    elif where == "metadata-value":
        fields["metadata"] = '{"note": "' + escape + '"}'
    else:
        fields[where] = '"' + escape + '"'
    return ("{" + ", ".join(f'"{k}": {v}' for k, v in fields.items()) + "}").encode()


surrogate_bodies = st.builds(_with_surrogate, st.sampled_from(["sender", "message", "metadata-key", "metadata-value"]),
                             surrogate)
wrapped_deep = st.builds(lambda inner: b'{"sender": "u-deep", "message": "hi", "metadata": ' + inner + b"}", deep_json)


def _no_dialogue_state() -> None:
    import redis

    client = redis.Redis.from_url(LIVE["redis_url"], decode_responses=True)
    try:
        assert client.keys("linli:dialogue:rest:u-*") == []
    finally:
        client.close()


@FUZZ
@given(raw=deep_json | wrapped_deep | surrogate_bodies)
def test_hostile_json_is_a_clear_400_and_writes_nothing(live, raw):
    base, db = live
    before = db.conversations.count_documents({})
    resp = requests.post(base + URL, data=raw, headers={"Content-Type": "application/json"}, timeout=60)
    assert resp.status_code == 400, (resp.status_code, resp.text[:300])
    assert resp.json()["error"]["code"] in ("invalid_json", "invalid_sender")
    assert db.conversations.count_documents({}) == before
    _no_dialogue_state()


@FUZZ
@given(data=st.data(), raw=deep_json | surrogate.map(lambda e: ('{"code": "' + e + '", "message": "' + e + '"}').encode()))
def test_hostile_json_on_every_api_body_and_login(live, api_ops, data, raw):
    base, _ = live
    ops, token = api_ops
    method, path = data.draw(st.sampled_from(ops + [("POST", "/api/v1/auth/login")]))
    url = base + re.sub(r"\{[^}]+\}", lambda _: data.draw(path_ids), path)
    resp = requests.request(method, url, data=raw, timeout=60,
                            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert resp.status_code in (400, 404), (method, path, resp.status_code, resp.text[:300])
    assert resp.json()["error"]["code"]


far_dates = st.dates(min_value=__import__("datetime").date(1, 1, 1), max_value=__import__("datetime").date(9999, 12, 31))


@FUZZ
@given(day=far_dates | st.sampled_from(["9999-12-31", "0001-01-01", "2100-12-31", "2000-01-01"]),
       days=st.integers(min_value=1, max_value=31))
def test_any_date_on_the_slot_list_is_an_answer_not_a_crash(live, api_ops, day, days):
    base, _ = live
    _, token = api_ops
    resp = requests.get(base + "/api/v1/services/health_check/slots", params={"date": str(day), "days": str(days)},
                        headers={"Authorization": f"Bearer {token}"}, timeout=60)
    assert resp.status_code < 500, (day, resp.status_code, resp.text[:300])
    if resp.status_code == 400:
        assert resp.json()["error"]["code"] == "invalid_date"
