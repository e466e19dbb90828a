"""The REST channel end to end: real app, real trained model, real Redis and MongoDB."""
from __future__ import annotations

import asyncio
import json

import pytest

URL = "/webhooks/rest/webhook"


async def say(client, text, sender="resident-1", **extra):
    resp = await client.post(URL, json={"sender": sender, "message": text, **extra})
    assert resp.status == 200, await resp.text()
    return await resp.json()


async def test_greeting_gets_chinese_menu_and_is_stored(client, db):
    replies = await say(client, "你好")
    assert len(replies) == 1
    reply = replies[0]
    assert reply["recipient_id"] == "resident-1"
    assert "邻里小助手" in reply["text"]
    assert "1 报事报修" in reply["text"] and "9 找人工" in reply["text"]
    assert {"title": "1 报事报修", "payload": "1"} in reply["buttons"]
    turns = await db.conversations.find({}).to_list(10)
    assert len(turns) == 1
    turn = turns[0]
    assert turn["user_key"] == "rest:resident-1"
    assert turn["channel"] == "rest" and turn["user"] == "resident-1"
    assert turn["text"] == "你好"
    assert turn["intent"] == "greet" and turn["confidence"] > 0.4
    assert turn["replies"][0]["text"] == reply["text"]
    assert turn["received_at"] <= turn["replied_at"]


@pytest.mark.parametrize(
    "text,intent",
    [
        ("谢谢你啊", "thank"),
        ("拜拜", "goodbye"),
        ("你能帮我干啥", "help"),
        ("今天股票行情怎么样", "out_of_scope"),
    ],
)
async def test_smalltalk_intents_are_answered(client, db, text, intent):
    replies = await say(client, text)
    assert replies and replies[0]["text"]
    stored = await db.conversations.find_one({"text": text})
    assert stored["intent"] == intent


async def test_menu_digits_skip_the_nlu(client, db, nlu_service):
    before = nlu_service.parses
    replies = await say(client, "３")  # full-width digit, as some keyboards send
    assert "预约服务" in replies[0]["text"]
    assert nlu_service.parses == before
    stored = await db.conversations.find_one({})
    assert stored["intent"] == "menu_select" and stored["confidence"] == 1.0 and stored["text"] == "3"


async def test_unknown_menu_number_is_explained(client):
    replies = await say(client, "42")
    assert "没有“42”这个选项" in replies[0]["text"]


async def test_zero_returns_to_main_menu(client):
    replies = await say(client, "0")
    assert replies[0]["text"].startswith("主菜单")


async def test_emoji_only_gets_a_reply_without_the_model(client, db, nlu_service):
    before = nlu_service.parses
    replies = await say(client, "👍👍")
    assert "文字或语音" in replies[0]["text"]
    assert nlu_service.parses == before
    stored = await db.conversations.find_one({})
    assert stored["text"] == "👍👍" and stored["intent"] == "nlu_fallback"


async def test_emoji_inside_text_is_kept(client, db):
    await say(client, "你好呀😊")
    stored = await db.conversations.find_one({})
    assert stored["text"] == "你好呀😊"
    assert stored["intent"] == "greet"


async def test_two_misunderstood_turns_change_the_answer(client):
    from bot import keys
    from bot.messages import InboundMessage

    chat = client.app[keys.CHAT]

    async def misunderstood():
        message = InboundMessage(channel="rest", sender="u-miss", text="阿巴阿巴", metadata={"intent": "nlu_fallback"})
        return (await chat.handle(message))[0].text

    assert "没太听明白" in await misunderstood()
    assert "还是没听懂" in await misunderstood()
    await say(client, "你好", sender="u-miss")  # understood: the count starts again
    assert "没太听明白" in await misunderstood()


@pytest.mark.parametrize(
    "body,status,code",
    [
        (b"not json at all", 400, "invalid_json"),
        (b"\xff\xfe\x00garbage", 400, "invalid_json"),
        (b"[1, 2, 3]", 400, "invalid_body"),
        (json.dumps({"message": "你好"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "u1"}).encode(), 400, "invalid_message"),
        (json.dumps({"sender": "u1", "message": {"$gt": ""}}).encode(), 400, "invalid_message"),
        (json.dumps({"sender": {"$ne": None}, "message": "你好"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "u1", "message": ["你好"]}).encode(), 400, "invalid_message"),
        (json.dumps({"sender": "u1", "message": 12}).encode(), 400, "invalid_message"),
        (json.dumps({"sender": "u1", "message": ""}).encode(), 400, "empty_message"),
        (json.dumps({"sender": "u1", "message": " \u200b\n "}).encode(), 400, "empty_message"),
        (json.dumps({"sender": "u1", "message": "你好", "metadata": "x"}).encode(), 400, "invalid_metadata"),
        (json.dumps({"sender": "u1", "message": "你好", "metadata": {"message_id": {"$gt": ""}}}).encode(), 400, "invalid_message_id"),
        (json.dumps({"sender": "../../etc", "message": "你好"}).encode(), 400, "invalid_sender"),
        (json.dumps({"sender": "u1", "message": "长" * 1001}, ensure_ascii=False).encode(), 413, "message_too_long"),
        (json.dumps({"sender": "u1", "message": "长" * (1024 * 1024)}).encode(), 413, "body_too_large"),
        (b"[" * 60_000, 400, "invalid_json"),  # RecursionError in the parser before
        (b'{"sender": "u1", "message": "hi", "metadata": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, 400, "invalid_json"),
        (b'{"sender": "u1", "message": "\\ud800x"}', 400, "invalid_json"),  # a lone surrogate
        (b'{"sender": "u1", "message": "\\udfff"}', 400, "invalid_json"),
        (b'{"sender": "u1", "message": "hi", "metadata": {"\\ud83d": 1}}', 400, "invalid_json"),
    ],
)
async def test_bad_input_is_refused_clearly_and_nothing_is_stored(client, db, redis, body, status, code):
    resp = await client.post(URL, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == status
    error = (await resp.json())["error"]
    assert error["code"] == code
    assert error["message"] and error["detail"]  # Chinese for people, English for developers
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])
    assert await db.conversations.count_documents({}) == 0
    assert await redis.keys("linli:dialogue:*") == []  # no dialogue state saved either


async def test_wrong_method_and_path_are_json_errors(client):
    resp = await client.get(URL)
    assert resp.status == 405
    assert (await resp.json())["error"]["code"] == "method_not_allowed"
    resp = await client.get("/no/such/page")
    assert resp.status == 404


async def test_retry_with_same_message_id_is_answered_once(client, db, nlu_service):
    body = {"sender": "u7", "message": "你好", "metadata": {"message_id": "m-1"}}
    first = await client.post(URL, json=body)
    second = await client.post(URL, json=body)
    assert first.status == second.status == 200
    assert await first.json() == await second.json()
    assert await db.conversations.count_documents({}) == 1
    # Another user may use the same client-side id.
    other = await client.post(URL, json={**body, "sender": "u8"})
    assert other.status == 200
    assert await db.conversations.count_documents({}) == 2


async def test_concurrent_retries_are_processed_once(client, db):
    body = {"sender": "u9", "message": "谢谢", "metadata": {"message_id": "m-2"}}
    responses = await asyncio.gather(*(client.post(URL, json=body) for _ in range(5)))
    bodies = [await r.json() for r in responses]
    assert all(r.status == 200 for r in responses)
    assert all(b == bodies[0] for b in bodies)
    assert await db.conversations.count_documents({}) == 1


async def test_channel_token_is_required_when_configured(make_client, db):
    client = await make_client(rest_token="s3cret")
    resp = await client.post(URL, json={"sender": "u1", "message": "你好"})
    assert resp.status == 401
    assert (await resp.json())["error"]["code"] == "bad_token"
    resp = await client.post(URL + "?token=wrong", json={"sender": "u1", "message": "你好"})
    assert resp.status == 401
    resp = await client.post(URL + "?token=s3cret", json={"sender": "u1", "message": "你好"})
    assert resp.status == 200
    resp = await client.post(URL, json={"sender": "u1", "message": "你好"}, headers={"Authorization": "Bearer s3cret"})
    assert resp.status == 200
    assert await db.conversations.count_documents({}) == 2


async def test_health_and_readiness(client):
    resp = await client.get("/healthz")
    body = await resp.json()
    assert resp.status == 200 and body["status"] == "ok" and isinstance(body["pid"], int)
    resp = await client.get("/readyz")
    body = await resp.json()
    assert resp.status == 200, body
    assert body["status"] == "ready"
    assert body["checks"] == {"mongo": True, "redis": True, "nlu": True}


async def test_readiness_reports_a_missing_redis(make_client):
    from storage.servers import free_port

    client = await make_client(redis_url=f"redis://127.0.0.1:{free_port()}/0")
    resp = await client.get("/readyz")
    assert resp.status == 503
    assert (await resp.json())["checks"]["redis"] is False
    # Chat cannot work without dialogue state: a clear 503, not a crash.
    resp = await client.post(URL, json={"sender": "u1", "message": "你好"})
    assert resp.status == 503
    assert (await resp.json())["error"]["code"] == "storage_unavailable"


# -- who may use the channel (issue 13, M5) -------------------------------------------


async def test_without_a_token_only_local_programs_are_answered(make_client, db):
    # 127.0.0.1 plays a trusted reverse proxy, so the client is whoever X-Forwarded-For names.
    client = await make_client(trusted_proxies=("127.0.0.1",))
    resp = await client.post(URL, json={"sender": "victim", "message": "我报的事怎么样了"},
                             headers={"X-Forwarded-For": "203.0.113.5"})
    assert resp.status == 403
    error = (await resp.json())["error"]
    assert error["code"] == "local_only" and "本机" in error["message"]
    assert await db.conversations.count_documents({}) == 0
    local = await client.post(URL, json={"sender": "u1", "message": "你好"})  # no proxy hop: the local client itself
    assert local.status == 200


async def test_with_a_token_remote_clients_are_answered(make_client):
    client = await make_client(trusted_proxies=("127.0.0.1",), rest_token="s3cret")
    resp = await client.post(URL, json={"sender": "u1", "message": "你好"},
                             headers={"X-Forwarded-For": "203.0.113.5", "Authorization": "Bearer s3cret"})
    assert resp.status == 200


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(make_client):
    client = await make_client()  # no trusted proxies: the peer (loopback) is the client
    resp = await client.post(URL, json={"sender": "u1", "message": "你好"}, headers={"X-Forwarded-For": "203.0.113.5"})
    assert resp.status == 200


async def test_per_ip_and_global_limits(make_client, redis):
    client = await make_client(trusted_proxies=("127.0.0.1",), rest_token="t", rate_rest_ip_per_minute=2,
                               rate_chat_per_minute=0)
    auth = {"Authorization": "Bearer t"}

    async def post(sender: str, ip: str):
        return await client.post(URL, json={"sender": sender, "message": "0"}, headers={**auth, "X-Forwarded-For": ip})

    assert (await post("a", "203.0.113.1")).status == 200
    assert (await post("b", "203.0.113.1")).status == 200
    limited = await post("c", "203.0.113.1")  # a new sender name does not help
    assert limited.status == 429 and int(limited.headers["Retry-After"]) > 0
    assert (await post("c", "203.0.113.2")).status == 200  # another address has its own budget

    await redis.flushdb()  # a fresh minute for the global bucket
    overall = await make_client(rest_token="t", rate_rest_global_per_minute=3, rate_rest_ip_per_minute=0,
                                rate_chat_per_minute=0)
    statuses = [
        (await overall.post(URL, json={"sender": f"s{i}", "message": "0"}, headers=auth)).status for i in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
