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
    ],
)
async def test_bad_input_is_refused_clearly_and_nothing_is_stored(client, db, body, status, code):
    resp = await client.post(URL, data=body, headers={"Content-Type": "application/json"})
    assert resp.status == status
    error = (await resp.json())["error"]
    assert error["code"] == code
    assert error["message"] and error["detail"]  # Chinese for people, English for developers
    assert any("\u4e00" <= ch <= "\u9fff" for ch in error["message"])
    assert await db.conversations.count_documents({}) == 0


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
