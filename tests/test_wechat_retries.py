"""WeChat retries a message it got no answer to within 5 s: the same MsgId is acted on once,
concurrent retries get the first answer, and a failed attempt lets the retry try again
(see tests/wechat_helpers.py)."""
from __future__ import annotations

import asyncio

from bot import keys
from tests.wechat_helpers import fake_api, make_wechat, message_xml, spy_on_chat  # noqa: F401  (fixtures)


async def test_same_msgid_three_times_is_one_action(make_wechat, db, nlu_service, monkeypatch):
    client, wechat = await make_wechat()
    seen = spy_on_chat(client, monkeypatch)
    xml = message_xml("text", Content="你好")
    answers = [await wechat.post(xml) for _ in range(3)]
    assert all(a.status == 200 for a in answers)
    assert answers[0].plain == answers[1].plain == answers[2].plain  # the very same reply XML
    assert "邻里小助手" in answers[0].text
    assert len(seen) == 1
    assert await db.conversations.count_documents({}) == 1


async def test_concurrent_retries_get_the_first_answer(make_wechat, db, monkeypatch):
    # A generous budget: every retry gets the reply XML however busy the machine is; the
    # dialogue's 0.3 s keeps the first one running while the retries arrive.
    client, wechat = await make_wechat(aes=True, wechat_reply_budget=60.0)
    seen = spy_on_chat(client, monkeypatch, delay=0.3)
    xml = message_xml("text", Content="你好")
    answers = await asyncio.gather(*(wechat.post(xml) for _ in range(3)))
    assert len({a.plain for a in answers}) == 1 and "邻里小助手" in answers[0].text
    assert len(seen) == 1
    assert await db.conversations.count_documents({}) == 1


async def test_failed_processing_lets_the_retry_try_again(make_wechat, db, monkeypatch):
    client, wechat = await make_wechat()
    seen = spy_on_chat(client, monkeypatch, fail_once=True)
    xml = message_xml("text", Content="你好")
    first = await wechat.post(xml)
    assert first.status == 500
    second = await wechat.post(xml)
    assert "邻里小助手" in second.text
    assert len(seen) == 2
    assert await db.conversations.count_documents({}) == 1


async def test_model_still_loading_gets_a_polite_reply_and_no_claim(make_wechat, redis, monkeypatch):
    from bot.chat import NLUNotReady

    client, wechat = await make_wechat()

    async def not_ready(message):
        raise NLUNotReady("loading")

    monkeypatch.setattr(client.app[keys.CHAT], "handle", not_ready)
    answer = await wechat.send("text", Content="路灯坏了")
    assert "正在启动" in answer.text
    assert await redis.keys("linli:dedup:*") == []  # the resident's next try is processed afresh
