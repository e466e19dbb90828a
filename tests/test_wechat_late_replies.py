"""Replies that miss WeChat's reply budget go out through the customer-service API (a local
fake of the WeChat API server): once, with the access token shared through Redis and
refreshed once when refused (see tests/wechat_helpers.py)."""
from __future__ import annotations

import asyncio
import logging

import pytest

from bot import keys
from bot.channels.wechat_xml import parse_message_xml
from bot.wechat_api import WeChatApiError, WeChatClient
from tests.wechat_helpers import (  # noqa: F401  (fixtures)
    APP_ID, APP_SECRET, OPENID, fake_api, make_wechat, message_xml, spy_on_chat,
)


async def test_slow_dialogue_replies_through_the_customer_service_api(make_wechat, fake_api, db, redis, monkeypatch):
    client, wechat = await make_wechat(wechat_reply_budget=0.3)
    dialogue_may_finish = asyncio.Event()
    spy_on_chat(client, monkeypatch, gate=dialogue_may_finish)
    xml = message_xml("text", Content="你好")
    answer = await asyncio.wait_for(wechat.post(xml), 10)  # answered while the dialogue is still held
    assert answer.body == "success" and fake_api.sends == []
    dialogue_may_finish.set()
    sends = await fake_api.wait_for_sends(1)
    send = sends[0]
    assert send.errcode == 0 and send.query["access_token"] == "ACCESS_TOKEN_1"
    assert send.body["touser"] == OPENID and send.body["msgtype"] == "text"
    assert "邻里小助手" in send.body["text"]["content"] and "1 报事报修" in send.body["text"]["content"]
    assert len(fake_api.token_requests) == 1
    assert await redis.get(f"linli:wechat:token:{APP_ID}") == "ACCESS_TOKEN_1"
    assert await db.conversations.count_documents({}) == 1
    # A late retry of the same message does not send the reply twice.
    assert (await wechat.post(xml)).body == "success"
    await client.close()  # the app's cleanup drains every background delivery: the count is final
    assert len(fake_api.sends) == 1


async def test_retry_while_slow_processing_gets_success(make_wechat, fake_api, db, monkeypatch):
    client, wechat = await make_wechat(wechat_reply_budget=0.3)
    dialogue_may_finish = asyncio.Event()
    seen = spy_on_chat(client, monkeypatch, gate=dialogue_may_finish)
    xml = message_xml("text", Content="你好")
    answers = await asyncio.gather(*(wechat.post(xml) for _ in range(3)))  # all while the dialogue is held
    assert [a.body for a in answers] == ["success"] * 3
    dialogue_may_finish.set()
    await fake_api.wait_for_sends(1)
    await client.close()  # the app's cleanup drains every background delivery: the counts are final
    assert len(seen) == 1 and len(fake_api.sends) == 1
    assert await db.conversations.count_documents({}) == 1


async def test_invalid_token_is_refreshed_once_and_resent(make_wechat, fake_api, redis, monkeypatch):
    client, wechat = await make_wechat(wechat_reply_budget=0.1)
    dialogue_may_finish = asyncio.Event()
    spy_on_chat(client, monkeypatch, gate=dialogue_may_finish)
    await redis.set(f"linli:wechat:token:{APP_ID}", "EXPIRED_TOKEN", ex=600)
    assert (await wechat.send("text", Content="你好")).body == "success"
    dialogue_may_finish.set()
    sends = await fake_api.wait_for_sends(2)
    assert [(s.query["access_token"], s.errcode) for s in sends] == [("EXPIRED_TOKEN", 40001), ("ACCESS_TOKEN_1", 0)]
    assert len(fake_api.token_requests) == 1
    assert await redis.get(f"linli:wechat:token:{APP_ID}") == "ACCESS_TOKEN_1"


async def test_user_out_of_48h_window_is_logged_not_retried(make_wechat, fake_api, monkeypatch, caplog):
    client, wechat = await make_wechat(wechat_reply_budget=0.1)
    dialogue_may_finish = asyncio.Event()
    spy_on_chat(client, monkeypatch, gate=dialogue_may_finish)
    fake_api.unreachable.add(OPENID)
    with caplog.at_level(logging.WARNING, logger="bot"):
        assert (await wechat.send("text", Content="你好")).body == "success"
        dialogue_may_finish.set()
        await fake_api.wait_for_sends(1)
        await client.close()  # drains the delivery: its log line is written, and nothing is retried
    assert [s.errcode for s in fake_api.sends] == [45015]
    assert any("undeliverable" in r.getMessage() and "45015" in r.getMessage() for r in caplog.records)


async def test_shutdown_waits_for_late_replies(make_wechat, fake_api, monkeypatch):
    client, wechat = await make_wechat(wechat_reply_budget=0.1)
    spy_on_chat(client, monkeypatch, delay=0.5)
    assert (await wechat.send("text", Content="你好")).body == "success"
    await client.close()  # app cleanup drains the background delivery
    assert len(fake_api.delivered) == 1


async def test_request_gone_mid_dialogue_still_gets_its_reply_once(make_wechat, fake_api, monkeypatch):
    """If WeChat drops the connection while the dialogue runs, the reply still goes out
    (through the API) and the message stays claimed, so a retry does not act again."""
    client, wechat = await make_wechat(wechat_reply_budget=0.3)
    in_dialogue, dialogue_may_finish = asyncio.Event(), asyncio.Event()
    seen = spy_on_chat(client, monkeypatch, gate=dialogue_may_finish, entered=in_dialogue)
    channel = next(r.handler.__self__ for r in client.app.router.routes()
                   if r.method == "POST" and r.resource.canonical == "/wechat")
    xml = message_xml("text", Content="你好")
    fields, message = parse_message_xml(xml)
    plan = channel._plan(fields, message, client.app[keys.SETTINGS])
    request = asyncio.create_task(channel._answer(client.app, plan, message))
    await asyncio.wait_for(in_dialogue.wait(), 60)  # the dialogue is running: now the request goes
    request.cancel()
    with pytest.raises(asyncio.CancelledError):
        await request
    assert (await wechat.post(xml)).body == "success"  # the retry, while the dialogue is still held
    dialogue_may_finish.set()
    sends = await fake_api.wait_for_sends(1)
    assert "邻里小助手" in sends[0].body["text"]["content"]
    await client.close()  # the app's cleanup drains every background delivery: the counts are final
    assert len(seen) == 1 and len(fake_api.sends) == 1


async def test_token_is_fetched_by_one_client_at_a_time(fake_api, redis):
    fake_api.token_delay = 0.3
    clients = [WeChatClient(redis, APP_ID, APP_SECRET, fake_api.url) for _ in range(2)]
    try:
        tokens = await asyncio.gather(*(c.access_token() for c in clients for _ in range(5)))
        assert set(tokens) == {"ACCESS_TOKEN_1"}
        assert len(fake_api.token_requests) == 1
        # A refused token is replaced once, however many callers report it.
        tokens = await asyncio.gather(*(c.access_token(stale="ACCESS_TOKEN_1") for c in clients))
        assert set(tokens) == {"ACCESS_TOKEN_2"} and len(fake_api.token_requests) == 2
    finally:
        for c in clients:
            await c.close()


async def test_wrong_app_secret_is_an_api_error(fake_api, redis):
    client = WeChatClient(redis, APP_ID, "wrong-secret", fake_api.url)
    try:
        with pytest.raises(WeChatApiError) as info:
            await client.send_text(OPENID, "你好")
        assert info.value.errcode == 40125
        assert fake_api.sends == []
    finally:
        await client.close()
