"""The WeChat channel end to end, driven the way WeChat's servers drive it.

Messages are XML signed with the token (and encrypted with wechatpy's WeChatCrypto in
safe mode), posted to /wechat of a real app (real model, Redis and MongoDB); replies are
read back with wechatpy. Late replies go to a local fake of the WeChat API server.
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

from bot import keys
from bot.channels.wechat import MENU_KEYS
from bot.channels.wechat_xml import parse_message_xml, render_text, reply_xml
from bot.config import ROOT
from bot.messages import Button, Reply
from bot.wechat_api import WeChatApiError, WeChatClient
from services.locations import LASTLOC_KEY
from storage.servers import free_port
from tests.fake_wechat import FakeWeChat

TOKEN = "linli-wechat-token"
APP_ID = "wx0123456789abcdef"
APP_SECRET = "app-secret-for-tests"
AES_KEY = base64.b64encode(b"linli-test-encoding-aes-key-32b!").decode().rstrip("=")
ACCOUNT = "gh_linli_test"
OPENID = "oLinli_resident-0001_abcdefgh"

_msg_ids = iter(range(7_000_000_000_000_000_000, 8_000_000_000_000_000_000))


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 of the sorted parts, concatenated."""
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def message_xml(msg_type: str, openid: str = OPENID, create_time: int | None = None, **fields) -> str:
    """A message as WeChat's server sends it (strings in CDATA, numbers bare)."""
    data = {"ToUserName": ACCOUNT, "FromUserName": openid, "CreateTime": create_time or int(time.time()),
            "MsgType": msg_type, **fields}
    if msg_type != "event" and "MsgId" not in data:
        data["MsgId"] = next(_msg_ids)
    nodes = [
        f"<{name}>{value}</{name}>" if isinstance(value, (int, float)) else f"<{name}><![CDATA[{value}]]></{name}>"
        for name, value in data.items()
    ]
    return "<xml>" + "".join(nodes) + "</xml>"


def msg_id_of(xml: str) -> str:
    return xmltodict.parse(xml)["xml"]["MsgId"]


@dataclass
class Answer:
    status: int
    body: str
    plain: str  # decrypted in safe mode

    @property
    def reply(self):
        """The reply read with wechatpy (a TextMessage), None for `success`."""
        assert self.status == 200, self.body
        if self.plain == "success":
            return None
        return parse_message(self.plain)

    @property
    def text(self) -> str:
        reply = self.reply
        assert reply is not None, "expected a reply, got success"
        assert reply.type == "text"
        return reply.content


class WeChatServer:
    """Posts to /wechat like WeChat's server: signed query, plain or encrypted XML."""

    def __init__(self, client, *, aes: bool = False) -> None:
        self.client = client
        self.crypto = WeChatCrypto(TOKEN, AES_KEY, APP_ID) if aes else None

    async def post(self, xml: str | bytes, *, timestamp: int | None = None, signature: str | None = None,
                   msg_signature: str | None = None, query: dict | None = None) -> Answer:
        ts = str(timestamp if timestamp is not None else int(time.time()))
        nonce = uuid.uuid4().hex[:10]
        params = {"signature": signature or sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}
        body = xml
        if self.crypto is not None:
            envelope = self.crypto.encrypt_message(xml, nonce, ts)
            params.update(encrypt_type="aes", msg_signature=msg_signature or xmltodict.parse(envelope)["xml"]["MsgSignature"])
            body = envelope
        params.update(query or {})
        resp = await self.client.post("/wechat", params=params, data=body, headers={"Content-Type": "text/xml"})
        text = await resp.text()
        plain = text
        if self.crypto is not None and resp.status == 200 and text != "success":
            env = xmltodict.parse(text)["xml"]
            plain = self.crypto.decrypt_message(text, env["MsgSignature"], env["TimeStamp"], env["Nonce"])
        return Answer(resp.status, text, plain)

    async def send(self, msg_type: str, **fields) -> Answer:
        return await self.post(message_xml(msg_type, **fields))


@pytest_asyncio.fixture
async def fake_api():
    fake = await FakeWeChat(APP_ID, APP_SECRET).start()
    yield fake
    await fake.close()


@pytest_asyncio.fixture
async def make_wechat(make_client, fake_api):
    """Factory: (test client, WeChatServer) for an app with the WeChat channel on."""

    async def make(aes: bool = False, **overrides):
        options = dict(
            wechat_token=TOKEN, wechat_app_id=APP_ID, wechat_app_secret=APP_SECRET, wechat_api_base=fake_api.url,
            wechat_aes_key=AES_KEY if aes else None,
        )
        client = await make_client(**{**options, **overrides})
        return client, WeChatServer(client, aes=aes)

    return make


@pytest_asyncio.fixture
async def wechat(make_wechat) -> WeChatServer:
    return (await make_wechat())[1]


def spy_on_chat(client, monkeypatch, delay: float = 0.0, fail_once: bool = False,
                gate: asyncio.Event | None = None, entered: asyncio.Event | None = None) -> list:
    """Record the InboundMessages the channel hands to the dialogue (optionally slowly, or
    held until `gate` is set)."""
    chat = client.app[keys.CHAT]
    original = chat.handle
    seen: list = []

    async def handle(message):
        seen.append(message)
        if entered is not None:
            entered.set()
        if fail_once and len(seen) == 1:
            raise RuntimeError("dialogue broke")
        if delay:
            await asyncio.sleep(delay)
        if gate is not None:
            await gate.wait()
        return await original(message)

    monkeypatch.setattr(chat, "handle", handle)
    return seen


async def no_trace(db, redis) -> None:
    assert await db.conversations.count_documents({}) == 0
    assert await redis.keys("linli:dedup:*") == []
    assert await redis.keys("linli:dialogue:*") == []


# -- URL verification -----------------------------------------------------------


async def test_url_verification_echoes_echostr(make_wechat):
    client, _ = await make_wechat()
    ts, nonce = str(int(time.time())), "n0nce"
    resp = await client.get("/wechat", params={"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
                                               "echostr": "echo-4711"})
    assert resp.status == 200 and await resp.text() == "echo-4711"
    resp = await client.get("/wechat", params={"signature": sign("wrong", ts, nonce), "timestamp": ts, "nonce": nonce,
                                               "echostr": "echo-4711"})
    assert resp.status == 403
    old = str(int(time.time()) - 3600)
    resp = await client.get("/wechat", params={"signature": sign(TOKEN, old, nonce), "timestamp": old, "nonce": nonce,
                                               "echostr": "echo-4711"})
    assert resp.status == 403


async def test_url_verification_in_safe_mode(make_wechat):
    client, _ = await make_wechat(aes=True)
    ts, nonce = str(int(time.time())), "n0nce"
    resp = await client.get("/wechat", params={"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce,
                                               "echostr": "echo-aes"})
    assert resp.status == 200 and await resp.text() == "echo-aes"


async def test_channel_is_off_without_a_token(client):
    resp = await client.get("/wechat")
    assert resp.status == 404


# -- message types -------------------------------------------------------------


@pytest.mark.parametrize("aes", [False, True], ids=["plain", "safe-mode"])
async def test_text_message_is_answered_and_stored(make_wechat, db, aes):
    client, wechat = await make_wechat(aes=aes)
    xml = message_xml("text", Content="你好")
    answer = await wechat.post(xml)
    reply = answer.reply
    assert reply.source == ACCOUNT and reply.target == OPENID
    assert "邻里小助手" in reply.content and "1 报事报修" in reply.content and "9 找人工" in reply.content
    if aes:
        assert "<Encrypt>" in answer.body and "邻里" not in answer.body
    turns = await db.conversations.find({}).to_list(10)
    assert len(turns) == 1
    turn = turns[0]
    assert turn["channel"] == "wechat" and turn["user"] == OPENID and turn["user_key"] == f"wechat:{OPENID}"
    assert turn["message_id"] == msg_id_of(xml) and turn["kind"] == "text"
    assert turn["text"] == "你好" and turn["intent"] == "greet"
    assert turn["replies"][0]["text"] in reply.content


async def test_voice_with_recognition_goes_through_the_nlu(make_wechat, db, monkeypatch):
    client, wechat = await make_wechat()
    seen = spy_on_chat(client, monkeypatch)
    answer = await wechat.send("voice", MediaId="media-v1", Format="amr", Recognition="路灯坏了")
    assert answer.text
    assert seen[0].kind == "voice" and seen[0].text == "路灯坏了"
    assert seen[0].media == {"media_id": "media-v1", "format": "amr"}
    turn = await db.conversations.find_one({})
    assert turn["kind"] == "voice" and turn["text"] == "路灯坏了" and turn["intent"] == "report_problem"


async def test_voice_without_recognition_asks_to_type(make_wechat, db, nlu_service, monkeypatch):
    client, wechat = await make_wechat()
    seen = spy_on_chat(client, monkeypatch)
    before = nlu_service.parses
    answer = await wechat.send("voice", MediaId="media-v2", Format="amr")
    assert "没听清" in answer.text and "打字" in answer.text
    assert nlu_service.parses == before and seen == []
    turn = await db.conversations.find_one({})
    assert turn["kind"] == "voice" and turn["channel"] == "wechat" and turn["intent"] is None


async def test_location_message_reaches_the_dialogue_as_coordinates(make_wechat, db, redis, monkeypatch):
    client, wechat = await make_wechat()
    seen = spy_on_chat(client, monkeypatch)
    answer = await wechat.send("location", Location_X=22.5431, Location_Y=114.0579, Scale=15, Label="华富路口")
    assert "7 附近驿站" in answer.text and "1 报事报修" in answer.text and "华富路口" in answer.text
    message = seen[0]
    assert message.kind == "location" and message.text == "华富路口"
    assert (message.location.latitude, message.location.longitude, message.location.label) == (22.5431, 114.0579, "华富路口")
    turn = await db.conversations.find_one({})
    assert turn["kind"] == "location" and turn["intent"] == "share_location"
    last = json.loads(await redis.get(LASTLOC_KEY.format(openid=OPENID)))
    assert (last["latitude"], last["longitude"]) == (22.5431, 114.0579)
    assert 0 < await redis.ttl(LASTLOC_KEY.format(openid=OPENID)) <= 15 * 60


async def test_image_is_kept_as_a_photo(make_wechat, db, monkeypatch):
    client, wechat = await make_wechat()
    seen = spy_on_chat(client, monkeypatch)
    answer = await wechat.send("image", PicUrl="http://mmbiz.example/pic.jpg", MediaId="media-img-1")
    assert "照片" in answer.text and "报事报修" in answer.text
    assert seen[0].kind == "image"
    assert seen[0].media == {"media_id": "media-img-1", "pic_url": "http://mmbiz.example/pic.jpg"}
    turn = await db.conversations.find_one({})
    assert turn["kind"] == "image" and turn["intent"] == "share_photo"


@pytest.mark.parametrize("msg_type,fields", [
    ("video", {"MediaId": "m1", "ThumbMediaId": "t1"}),
    ("shortvideo", {"MediaId": "m2", "ThumbMediaId": "t2"}),
    ("link", {"Title": "标题", "Description": "描述", "Url": "http://example.com"}),
    ("file", {"Title": "a.pdf", "FileKey": "k", "FileMd5": "0" * 32, "FileTotalLen": 10}),
])
async def test_unknown_types_get_a_polite_reply(wechat, db, msg_type, fields):
    answer = await wechat.send(msg_type, **fields)
    assert "暂时还看不了" in answer.text
    turn = await db.conversations.find_one({})
    assert turn["kind"] == msg_type and turn["channel"] == "wechat"


async def test_overlong_text_is_refused_politely(make_wechat, db, nlu_service):
    _, wechat = await make_wechat(max_message_chars=20)
    before = nlu_service.parses
    answer = await wechat.send("text", Content="长" * 21)
    assert "20字以内" in answer.text
    assert nlu_service.parses == before
    assert (await db.conversations.find_one({}))["text"] == "长" * 20


# -- events --------------------------------------------------------------------


@pytest.mark.parametrize("key", ["", "qrscene_123"], ids=["search", "qr-code"])
async def test_subscribe_gets_welcome_and_menu(wechat, db, key):
    ct = int(time.time())
    answer = await wechat.post(message_xml("event", create_time=ct, Event="subscribe", EventKey=key))
    assert answer.text.startswith("您好！我是邻里小助手")
    assert "1 报事报修" in answer.text
    turn = await db.conversations.find_one({})
    assert turn["kind"] == "event" and turn["intent"] == "greet"
    assert turn["message_id"] == f"{OPENID}:{ct}:subscribe"


async def test_unsubscribe_clears_the_dialogue(wechat, db, redis):
    await redis.set(f"linli:dialogue:wechat:{OPENID}", json.dumps({"flow": "report", "step": "where"}))
    await redis.set(LASTLOC_KEY.format(openid=OPENID), "{}")
    answer = await wechat.send("event", Event="unsubscribe")
    assert answer.body == "success" and answer.reply is None
    assert await redis.get(f"linli:dialogue:wechat:{OPENID}") is None
    assert await redis.get(LASTLOC_KEY.format(openid=OPENID)) is None
    assert await db.conversations.count_documents({}) == 0


@pytest.mark.parametrize("key,intent", [*MENU_KEYS.items(), ("NO_SUCH_KEY", "help")])
async def test_menu_clicks_open_capabilities(wechat, db, nlu_service, key, intent):
    before = nlu_service.parses
    answer = await wechat.send("event", Event="CLICK", EventKey=key)
    assert answer.text
    assert nlu_service.parses == before
    turn = await db.conversations.find_one({})
    assert turn["kind"] == "event" and turn["intent"] == intent


async def test_help_click_shows_the_main_menu(wechat):
    answer = await wechat.send("event", Event="CLICK", EventKey="MENU_HELP")
    assert answer.text.startswith("主菜单") and "7 附近驿站" in answer.text


async def test_location_event_only_remembers_the_location(wechat, db, redis):
    answer = await wechat.send("event", Event="LOCATION", Latitude=22.54, Longitude=114.06, Precision=30.0)
    assert answer.body == "success"
    last = json.loads(await redis.get(LASTLOC_KEY.format(openid=OPENID)))
    assert (last["latitude"], last["longitude"], last["precision"]) == (22.54, 114.06, 30.0)
    assert await db.conversations.count_documents({}) == 0


async def test_view_event_is_acknowledged(wechat, db):
    answer = await wechat.send("event", Event="VIEW", EventKey="https://example.com/page")
    assert answer.body == "success"
    assert await db.conversations.count_documents({}) == 0


# -- rendering -----------------------------------------------------------------


def test_buttons_become_numbered_lines_unless_already_shown():
    text = render_text([
        Reply("请确认：\n1 提交", [Button("1 提交", "1"), Button("修改", "2"), Button("算了", "cancel")]),
        Reply("第二条"),
    ])
    assert text == "请确认：\n1 提交\n2 修改\n3 算了\n\n第二条"


def test_reply_text_cannot_break_out_of_cdata():
    message = parse_message(message_xml("text", Content="x"))
    tricky = "a]]><Content>evil</Content>b\x01c"
    reply = parse_message(reply_xml(message, tricky))
    assert reply.content == "a]]><Content>evil</Content>bc"
    assert reply.target == OPENID


# -- retries and duplicates ------------------------------------------------------


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
    client, wechat = await make_wechat(aes=True, wechat_reply_budget=2.0)
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


# -- the reply budget and the customer-service API ----------------------------------


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
    seen = spy_on_chat(client, monkeypatch, delay=0.8)
    xml = message_xml("text", Content="你好")
    answers = await asyncio.gather(*(wechat.post(xml) for _ in range(3)))
    assert [a.body for a in answers] == ["success"] * 3
    await fake_api.wait_for_sends(1)
    await client.close()  # the app's cleanup drains every background delivery: the counts are final
    assert len(seen) == 1 and len(fake_api.sends) == 1
    assert await db.conversations.count_documents({}) == 1


async def test_invalid_token_is_refreshed_once_and_resent(make_wechat, fake_api, redis, monkeypatch):
    client, wechat = await make_wechat(wechat_reply_budget=0.1)
    spy_on_chat(client, monkeypatch, delay=0.3)
    await redis.set(f"linli:wechat:token:{APP_ID}", "EXPIRED_TOKEN", ex=600)
    assert (await wechat.send("text", Content="你好")).body == "success"
    sends = await fake_api.wait_for_sends(2)
    assert [(s.query["access_token"], s.errcode) for s in sends] == [("EXPIRED_TOKEN", 40001), ("ACCESS_TOKEN_1", 0)]
    assert len(fake_api.token_requests) == 1
    assert await redis.get(f"linli:wechat:token:{APP_ID}") == "ACCESS_TOKEN_1"


async def test_user_out_of_48h_window_is_logged_not_retried(make_wechat, fake_api, monkeypatch, caplog):
    client, wechat = await make_wechat(wechat_reply_budget=0.1)
    spy_on_chat(client, monkeypatch, delay=0.3)
    fake_api.unreachable.add(OPENID)
    with caplog.at_level(logging.WARNING, logger="bot"):
        assert (await wechat.send("text", Content="你好")).body == "success"
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
    client, wechat = await make_wechat(wechat_reply_budget=2.0)
    in_dialogue = asyncio.Event()
    seen = spy_on_chat(client, monkeypatch, delay=0.4, entered=in_dialogue)
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
    assert (await wechat.post(xml)).body == "success"
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


# -- two worker processes sharing Redis ---------------------------------------------


def _start_worker(tmp_path: Path, settings, fake_api: FakeWeChat, budget: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db, "REDIS_URL": settings.redis_url,
        "LINLI_PORT": str(port), "LINLI_MODELS_DIR": str(tmp_path / "no-model"),  # menu keys need no model
        "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE": fake_api.url, "LINLI_WECHAT_REPLY_BUDGET": budget, "LINLI_LOG_LEVEL": "WARNING",
    }
    log = open(tmp_path / f"worker-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, port


# Generous bounds for waiting on a worker process: on a busy 2-core machine starting
# Python with aiohttp, motor and wechatpy, or a request round trip, can take many seconds.
# The waits end as soon as the awaited thing happens; the bounds only stop a broken run.
WORKER_START_BOUND = 180.0
WORKER_EVENT_BOUND = 120.0


async def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = WORKER_START_BOUND) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "worker exited"
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"worker on {port} did not start")


async def test_two_worker_processes_act_once_per_message(tmp_path, settings, fake_api, db, redis):
    """Budget 0: every reply goes out through the API, so acting twice would send twice."""
    workers: list[tuple[subprocess.Popen, int]] = []
    try:
        # One after the other: two workers creating the indexes of a fresh database at
        # the same moment can trip over each other on secantusdb.
        for _ in range(2):
            workers.append(_start_worker(tmp_path, settings, fake_api, budget="0"))
            await _wait_healthy(workers[-1][1], workers[-1][0])
        fake_api.token_delay = 0.2
        async with aiohttp.ClientSession() as session:
            servers = [WeChatServer(_Base(session, f"http://127.0.0.1:{port}")) for _, port in workers]
            first, second = message_xml("text", Content="3"), message_xml("text", Content="0")
            answers = await asyncio.gather(*(s.post(xml) for xml in (first, second) for s in servers for _ in range(3)))
        assert all(a.status == 200 and a.body == "success" for a in answers)
        await fake_api.wait_for_sends(2, timeout=WORKER_EVENT_BOUND)
        # Stop both workers: shutdown drains every delivery still running, so once they have
        # exited nothing more can be sent, and the count below is final (no sleep-and-hope).
        await _stop_workers(workers)
        sends = fake_api.sends
        assert len(sends) == 2 and all(s.errcode == 0 for s in sends)
        contents = [s.body["text"]["content"] for s in sends]
        assert sum(c.startswith("主菜单") for c in contents) == 1 and sum(c.startswith("“预约服务”") for c in contents) == 1
        assert len(fake_api.token_requests) == 1  # one process refreshed, the other used its token
        turns = await db.conversations.find({}).sort("text", 1).to_list(10)
        assert [(t["text"], t["message_id"]) for t in turns] == [("0", msg_id_of(second)), ("3", msg_id_of(first))]
    finally:
        await _stop_workers(workers)


async def _stop_workers(workers: list[tuple[subprocess.Popen, int]]) -> None:
    """SIGINT (graceful: drains late replies), wait for the exit without blocking the loop."""
    for proc, _ in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc, _ in workers:
        try:
            await asyncio.to_thread(proc.wait, WORKER_EVENT_BOUND)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)


class _Base:
    """Just enough of aiohttp's TestClient for WeChatServer, against a real URL."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def post(self, path: str, **kwargs):
        resp = await self.session.post(self.base + path, **kwargs)
        await resp.read()
        return resp


# -- attacks -------------------------------------------------------------------

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE xml [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<xml><ToUserName>gh_linli_test</ToUserName><FromUserName>oAttacker</FromUserName><CreateTime>1700000000</CreateTime>
<MsgType>text</MsgType><Content>&lol9;</Content><MsgId>1234567890123456</MsgId></xml>"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh_linli_test</ToUserName><FromUserName>oAttacker</FromUserName><CreateTime>1700000000</CreateTime>
<MsgType>text</MsgType><Content>&xxe;</Content><MsgId>1234567890123457</MsgId></xml>"""

PARAMETER_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY % ext SYSTEM "http://127.0.0.1:1/evil.dtd"> %ext;]>
<xml><ToUserName>gh_linli_test</ToUserName><FromUserName>oAttacker</FromUserName><CreateTime>1700000000</CreateTime>
<MsgType>text</MsgType><Content>hi</Content><MsgId>1234567890123458</MsgId></xml>"""


@pytest.mark.parametrize("aes", [False, True], ids=["plain", "safe-mode"])
@pytest.mark.parametrize("body,code", [
    (BILLION_LAUGHS, "forbidden_xml"),
    (EXTERNAL_ENTITY, "forbidden_xml"),
    (PARAMETER_ENTITY, "forbidden_xml"),
    ("<xml><ToUserName>gh</ToUserName><FromUserName>oX", "invalid_xml"),
    ("not xml at all", "invalid_xml"),
    ("<html><body>hi</body></html>", "invalid_xml"),
    ("<xml><ToUserName>gh</ToUserName><MsgType>text</MsgType><CreateTime>1</CreateTime></xml>", "invalid_xml"),
    (message_xml("text", openid="../../etc/passwd", Content="hi"), "invalid_xml"),
    (message_xml("text", Content="a").replace("</xml>", "<Content>b</Content></xml>"), "invalid_xml"),
    (message_xml("location", Location_X="north", Location_Y=114.0, Label="x"), "invalid_location"),
    (message_xml("location", Location_X=95.0, Location_Y=114.0, Label="x"), "invalid_location"),
])
async def test_hostile_or_broken_xml_is_refused_and_nothing_stored(make_wechat, db, redis, body, code, aes):
    _, wechat = await make_wechat(aes=aes)
    answer = await wechat.post(body)
    assert answer.status == 400, answer.body
    assert json.loads(answer.body)["error"]["code"] == code
    await no_trace(db, redis)


async def test_bad_or_missing_signature_is_forbidden(make_wechat, db, redis):
    client, wechat = await make_wechat()
    answer = await wechat.post(message_xml("text", Content="你好"), signature="0" * 40)
    assert answer.status == 403
    answer = await wechat.post(message_xml("text", Content="你好"), signature="签名" * 20)
    assert answer.status == 403
    ts = str(int(time.time()))
    resp = await client.post("/wechat", params={"timestamp": ts, "nonce": "abc"}, data=message_xml("text", Content="你好"))
    assert resp.status == 403
    await no_trace(db, redis)


@pytest.mark.parametrize("timestamp,status", [(-600, 403), (+600, 403), ("soon", 400), ("", 400)])
async def test_bad_timestamps_are_refused(make_wechat, db, redis, timestamp, status):
    client, wechat = await make_wechat()
    if isinstance(timestamp, int):  # correctly signed, but far from now: a replay
        answer = await wechat.post(message_xml("text", Content="你好"), timestamp=int(time.time()) + timestamp)
        assert answer.status == status
    else:
        resp = await client.post("/wechat", params={"signature": sign(TOKEN, timestamp, "n"), "timestamp": timestamp,
                                                    "nonce": "n"}, data=message_xml("text", Content="你好"))
        assert resp.status == status
    await no_trace(db, redis)


async def test_oversized_body_is_refused(make_wechat, db, redis):
    _, wechat = await make_wechat(max_body_bytes=16 * 1024)
    answer = await wechat.post(message_xml("text", Content="长" * 10_000))
    assert answer.status == 413
    await no_trace(db, redis)


async def test_safe_mode_checks_msg_signature_and_refuses_plain_messages(make_wechat, db, redis):
    client, wechat = await make_wechat(aes=True)
    answer = await wechat.post(message_xml("text", Content="你好"), msg_signature="0" * 40)
    assert answer.status == 403
    plain = WeChatServer(client)  # a plain (unencrypted) message to a safe-mode account
    assert (await plain.send("text", Content="你好")).status == 403
    # Correctly signed, but not a cipher text.
    ts, nonce, junk = str(int(time.time())), "n1", "bm90IGEgY2lwaGVyIHRleHQ="
    resp = await client.post("/wechat", params={
        "signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "encrypt_type": "aes",
        "msg_signature": sign(TOKEN, ts, nonce, junk),
    }, data=f"<xml><ToUserName>{ACCOUNT}</ToUserName><Encrypt><![CDATA[{junk}]]></Encrypt></xml>")
    assert resp.status == 400
    # Encrypted for another account.
    other = WeChatServer(client, aes=True)
    other.crypto = WeChatCrypto(TOKEN, AES_KEY, "wxanotherapp0000")
    assert (await other.send("text", Content="你好")).status == 403
    await no_trace(db, redis)


# -- plain-mode replay (issue 13, M2) ---------------------------------------------


def _signed_query(ts: str, nonce: str) -> dict[str, str]:
    return {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}


async def test_captured_signature_cannot_carry_another_body(make_wechat, db, nlu_service, monkeypatch):
    client, _ = await make_wechat()
    seen = spy_on_chat(client, monkeypatch)
    query = _signed_query(str(int(time.time())), "captured01")
    first = message_xml("text", Content="你好")
    resp = await client.post("/wechat", params=query, data=first, headers={"Content-Type": "text/xml"})
    assert resp.status == 200
    retry = await client.post("/wechat", params=query, data=first, headers={"Content-Type": "text/xml"})
    assert retry.status == 200 and await retry.text() == await resp.text()  # WeChat's retry: the first answer
    forged = message_xml("text", openid="oAttacker_0000000000000000", Content="我报的事怎么样了")
    replay = await client.post("/wechat", params=query, data=forged, headers={"Content-Type": "text/xml"})
    assert replay.status == 403 and (await replay.json())["error"]["code"] == "replayed"
    assert len(seen) == 1
    assert await db.conversations.count_documents({}) == 1


async def test_same_msgid_from_another_user_is_another_message(make_wechat, db, nlu_service, monkeypatch):
    client, wechat = await make_wechat()
    seen = spy_on_chat(client, monkeypatch)
    mine = await wechat.post(message_xml("text", Content="你好", MsgId=424242))
    theirs = await wechat.post(message_xml("text", openid="oOther_resident_000000000", Content="1", MsgId=424242))
    assert mine.status == theirs.status == 200
    assert theirs.reply.target == "oOther_resident_000000000"  # their own answer, not mine
    assert theirs.plain != mine.plain
    assert [m.sender for m in seen] == [OPENID, "oOther_resident_000000000"]
    assert await db.conversations.count_documents({}) == 2


async def test_plain_mode_warns_at_start_up(make_wechat, caplog):
    with caplog.at_level(logging.WARNING, logger="bot.channels.wechat"):
        await make_wechat()
    assert any("plain mode" in r.getMessage() and "WECHAT_AES_KEY" in r.getMessage() for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bot.channels.wechat"):
        await make_wechat(aes=True)
    assert not any("plain mode" in r.getMessage() for r in caplog.records)
