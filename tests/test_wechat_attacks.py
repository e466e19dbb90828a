"""Hostile or broken requests to /wechat are refused and leave no trace: entity attacks,
bad XML, bad signatures and timestamps, oversized bodies, safe-mode forgeries and replays of
a captured plain-mode signature (see tests/wechat_helpers.py)."""
from __future__ import annotations

import json
import logging
import time

import pytest
from wechatpy.crypto import WeChatCrypto

from tests.wechat_helpers import (  # noqa: F401  (fixtures)
    ACCOUNT, AES_KEY, OPENID, TOKEN, WeChatServer, fake_api, make_wechat, message_xml, no_trace, sign,
    signed_query, spy_on_chat,
)


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


async def test_captured_signature_cannot_carry_another_body(make_wechat, db, nlu_service, monkeypatch):
    client, _ = await make_wechat()
    seen = spy_on_chat(client, monkeypatch)
    query = signed_query(str(int(time.time())), "captured01")
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
