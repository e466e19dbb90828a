"""The WeChat channel's messages, posted the way WeChat's server posts them (see
tests/wechat_helpers.py): URL verification, every message type and how replies are rendered."""
from __future__ import annotations

import json
import time

import pytest
from wechatpy import parse_message

from bot.channels.wechat_xml import render_text, reply_xml
from bot.messages import Button, Reply
from services.locations import LASTLOC_KEY
from tests.wechat_helpers import (  # noqa: F401  (fixtures)
    ACCOUNT, OPENID, TOKEN, fake_api, make_wechat, message_xml, msg_id_of, sign, spy_on_chat, wechat,
)


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
