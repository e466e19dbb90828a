"""Driving the WeChat channel the way WeChat's servers drive it, for the tests of /wechat.

Messages are XML signed with the token (and encrypted with wechatpy's WeChatCrypto in
safe mode), posted to /wechat of a real app (real model, Redis and MongoDB); replies are
read back with wechatpy. Late replies go to a local fake of the WeChat API server.

Use in a test module with
    from tests.wechat_helpers import fake_api, make_wechat, wechat  # noqa: F401  (fixtures)
"""
from __future__ import annotations

import asyncio
import base64
import hashlib
import time
import uuid
from dataclasses import dataclass

import pytest_asyncio
import xmltodict
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto

from bot import keys
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


def signed_query(ts: str, nonce: str) -> dict[str, str]:
    """The query string WeChat's server puts on a message it posts."""
    return {"signature": sign(TOKEN, ts, nonce), "timestamp": ts, "nonce": nonce, "openid": OPENID}


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
        params = signed_query(ts, nonce)
        if signature:
            params["signature"] = signature
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
