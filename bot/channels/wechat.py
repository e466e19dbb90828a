"""WeChat Official Account channel: GET|POST /wechat (plain and AES safe mode).

GET   URL verification: signature = sha1(sorted([token, timestamp, nonce])), echo `echostr`.
POST  a message or event as XML (encrypted in safe mode), answered with reply XML or
      `success` (nothing to say now).

Every request is signed (403 otherwise) and carries a timestamp that must be within
five minutes of ours. XML is checked with defusedxml (no DTDs, entities or external
references) before wechatpy reads it. WeChat retries a message that is not answered
within 5 s up to three times, possibly on another worker: messages are claimed once by
FromUserName + MsgId (events by FromUserName + CreateTime + Event) in Redis, a retry
gets the first answer. In plain mode the signature does not cover the body, so every
(timestamp, nonce) is remembered for the timestamp window and may not come back with
another body; plain mode logs a warning at start-up (use safe mode). A dialogue that
takes longer than the reply budget is answered `success` and its reply is sent later
through the customer-service message API.
"""
from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Mapping
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from aiohttp import web
from defusedxml import DefusedXmlException
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import BaseEvent
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.messages import BaseMessage
from wechatpy.replies import TextReply, TransferCustomerServiceReply
from redis.asyncio import Redis
from wechatpy.utils import WeChatSigner

from bot.chat import ChatService, NLUNotReady
from bot.config import Settings
from bot.errors import ApiError
from bot.wechat_api import WeChatClient
from handlers import registry as handler_registry
from handlers.messages import InboundMessage, Location, Reply
from services.locations import LASTLOC_KEY, LASTLOC_TTL_SECONDS
from services.wechat_media import WeChatMedia
from storage.dedup import Deduplicator

log = logging.getLogger(__name__)

SUCCESS = "success"
MAX_CLOCK_SKEW_SECONDS = 300
# A (timestamp, nonce) is remembered while its timestamp can still be accepted.
NONCE_KEY = "linli:wechat:nonce:{timestamp}:{nonce}"
NONCE_TTL_SECONDS = 2 * MAX_CLOCK_SKEW_SECONDS + 60
# Seconds shutdown waits for replies still being prepared or sent.
DRAIN_SECONDS = 15.0



class _MenuKeys(Mapping[str, str]):
    """Custom-menu CLICK keys -> the capability (intent) they open, as the capabilities
    registered them (handlers.base.Registry.add_menu_item / add_wechat_key). Configure the
    account's menu (cgi-bin/menu/create) with these keys. Unknown keys open the main menu."""

    def __getitem__(self, key: str) -> str:
        intent = handler_registry.wechat_intent(key)
        if intent is None:
            raise KeyError(key)
        return intent

    def __iter__(self) -> Iterator[str]:
        return iter(dict(handler_registry.wechat_keys))

    def __len__(self) -> int:
        return len(handler_registry.wechat_keys)


MENU_KEYS: Mapping[str, str] = _MenuKeys()

# Resident-facing texts of answers given without the dialogue.
VOICE_UNRECOGNIZED = "抱歉，这段语音没听清。请再说一遍，或者直接打字告诉我。回复 0 看主菜单。"
UNSUPPORTED = "抱歉，这类消息我暂时还看不了。请用文字、语音、图片或位置告诉我，回复 0 看主菜单。"
TOO_LONG = "消息太长了，请控制在{max_chars}字以内，分几次发给我。"
STARTING = "系统正在启动，请过一会儿再发一次。"
FAILED = "抱歉，系统出了点问题，刚才的消息没办好，请稍后再试。"

_OPENID = re.compile(r"[\w\-]{1,64}", re.ASCII)
_DIGITS = re.compile(r"\d{1,20}", re.ASCII)
_NONCE = re.compile(r"[\w\-]{1,64}", re.ASCII)
_EVENT = re.compile(r"\w{1,64}", re.ASCII)
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# Elements WeChat sends with children (scan-code and photo-menu events).
_NESTED = {"ScanCodeInfo", "SendPicsInfo", "SendLocationInfo"}


@dataclass
class _Plan:
    """What to do with one message, decided before anything is claimed or stored."""

    message_id: str
    openid: str
    inbound: InboundMessage | None = None  # for the dialogue
    direct: str | None = None  # answered without the dialogue (still logged)
    kind: str = "text"
    text: str = ""
    unsubscribe: bool = False
    location: Location | None = None  # remembered as the user's last location
    precision: float | None = None
    delegated: bool = False  # the reply will be sent through the API: keep the claim

    @property
    def dedup_id(self) -> str:
        """The claim's id: per sender, so one user's MsgId never answers another, and an
        erasure finds the sender's entries (storage/pii_registry.py)."""
        prefix = f"{self.openid}:"
        return self.message_id if self.message_id.startswith(prefix) else prefix + self.message_id

    @property
    def erased(self) -> bool:
        """The turn erased the sender (bot/privacy_chat.py): nothing of it may be kept."""
        return self.inbound is not None and bool(self.inbound.metadata.get("erased"))


class WeChatChannel:
    name = "wechat"
    path = "/wechat"

    def __init__(
        self,
        settings: Settings,
        *,
        chat: Callable[[], ChatService],
        dedup: Callable[[], Deduplicator],
        redis: Callable[[], Redis],
        client: Callable[[], WeChatClient | None] = lambda: None,
        media: Callable[[], WeChatMedia | None] = lambda: None,
    ) -> None:
        """Given what it uses (getters: the app builds them when it starts, bot/bootstrap.py):
        the chat pipeline (its message handler, dialogue state and conversation log), the
        de-duplicator, Redis (replay checks, the last location), the API client for
        customer-service messages and the photo fetcher."""
        if not settings.wechat_token:
            raise ValueError("the WeChat channel needs WECHAT_TOKEN")
        self.settings = settings
        self._chat, self._dedup, self._redis = chat, dedup, redis
        self._client, self._media = client, media
        self.token = settings.wechat_token
        self.crypto: WeChatCrypto | None = None
        if settings.wechat_aes_key:
            if not settings.wechat_app_id:
                raise ValueError("WeChat safe mode (WECHAT_AES_KEY) needs WECHAT_APP_ID")
            try:
                self.crypto = WeChatCrypto(self.token, settings.wechat_aes_key, settings.wechat_app_id)
            except (AssertionError, ValueError) as exc:
                raise ValueError("WECHAT_AES_KEY must be the 43-character EncodingAESKey") from exc
        self._tasks: set[asyncio.Task] = set()
        if self.crypto is None:
            log.warning(
                "WeChat channel in plain mode: messages are neither encrypted nor signed over their body; "
                "set WECHAT_AES_KEY (safe mode, 安全模式) in production"
            )

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.verify), web.post(self.path, self.receive)]

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait for background deliveries; cancel what is still running after `timeout`."""
        if not self._tasks:
            return
        _, pending = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("cancelled %d WeChat deliveries at shutdown", len(pending))
            await asyncio.wait(pending, timeout=1)

    # -- HTTP ------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        """WeChat's URL verification when the server address is configured."""
        timestamp, nonce = self._check_time_and_nonce(request)
        self._check_signature(request.query.get("signature"), timestamp, nonce)
        echostr = request.query.get("echostr", "")
        if not echostr or len(echostr) > 128:
            raise ApiError(400, "invalid_echostr", "缺少 echostr 参数", "echostr missing or too long")
        return web.Response(text=echostr, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        timestamp, nonce = self._check_time_and_nonce(request)
        query = request.query
        if self.crypto is None:
            if query.get("encrypt_type", "raw") != "raw":
                raise ApiError(400, "not_encrypted_mode", "未配置消息加密", "encrypted message but no EncodingAESKey set")
            self._check_signature(query.get("signature"), timestamp, nonce)
        else:
            if query.get("encrypt_type") != "aes" or not query.get("msg_signature"):
                raise ApiError(403, "encryption_required", "消息必须加密", "safe mode: encrypt_type=aes and msg_signature required")
            if "signature" in query:
                self._check_signature(query["signature"], timestamp, nonce)
        raw = await request.read()  # enforces client_max_size (413)
        await self._check_replay(timestamp, nonce, raw)
        xml = self._decrypt(raw, query["msg_signature"], timestamp, nonce) if self.crypto else _utf8(raw)
        fields, message = _parse(xml)
        plan = self._plan(fields, message, self.settings)
        body = await self._answer(request.app, plan, message)
        return self._respond(body, nonce)

    def _check_time_and_nonce(self, request: web.Request) -> tuple[str, str]:
        timestamp, nonce = request.query.get("timestamp", ""), request.query.get("nonce", "")
        if not _DIGITS.fullmatch(timestamp) or len(timestamp) > 12:
            raise ApiError(400, "invalid_timestamp", "timestamp 参数不正确", "timestamp must be Unix seconds")
        if not _NONCE.fullmatch(nonce):
            raise ApiError(400, "invalid_nonce", "nonce 参数不正确", "nonce missing or malformed")
        if abs(time.time() - int(timestamp)) > MAX_CLOCK_SKEW_SECONDS:
            raise ApiError(403, "stale_timestamp", "请求已过期", "timestamp more than 5 minutes off")
        return timestamp, nonce

    async def _check_replay(self, timestamp: str, nonce: str, raw: bytes) -> None:
        """A signature covers only (token, timestamp, nonce) in plain mode, not the body:
        each (timestamp, nonce) is remembered for the whole timestamp window with the body
        it came with, and the same pair with another body is refused. The same body again
        is WeChat's retry (answered once by the message claim)."""
        digest = hashlib.sha256(raw).hexdigest()
        key = NONCE_KEY.format(timestamp=timestamp, nonce=nonce)
        redis = self._redis()
        if await redis.set(key, digest, nx=True, ex=NONCE_TTL_SECONDS):
            return
        seen = await redis.get(key)
        if seen is not None and seen != digest:
            log.warning("WeChat request refused: nonce %s reused with another body", nonce)
            raise ApiError(403, "replayed", "请求已被使用过", "timestamp and nonce already used with another body")

    def _check_signature(self, signature: str | None, timestamp: str, nonce: str) -> None:
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce)
        if not signature or not hmac.compare_digest(signer.signature.encode(), signature.lower().encode()):
            raise ApiError(403, "bad_signature", "签名校验失败", "signature does not match the token")

    def _decrypt(self, raw: bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        envelope = _safe_root(_utf8(raw))
        encrypted = envelope.findtext("Encrypt")
        if not encrypted:
            raise ApiError(400, "invalid_xml", "消息格式不正确", "no Encrypt element in safe mode")
        try:
            return self.crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce)
        except InvalidSignatureException:
            raise ApiError(403, "bad_signature", "签名校验失败", "msg_signature does not match") from None
        except InvalidAppIdException:
            raise ApiError(403, "wrong_app", "消息不属于本公众号", "message encrypted for another AppID") from None
        except Exception as exc:  # bad base64, padding, lengths: the cipher text is broken
            log.warning("undecryptable WeChat message: %r", exc)
            raise ApiError(400, "undecryptable", "消息无法解密", "Encrypt is not a valid cipher text") from None

    def _respond(self, body: str, nonce: str) -> web.Response:
        if body == SUCCESS:
            return web.Response(text=SUCCESS, content_type="text/plain")
        if self.crypto is not None:
            body = self.crypto.encrypt_message(body, nonce, str(int(time.time())))
        return web.Response(text=body, content_type="application/xml")

    # -- messages -> plan --------------------------------------------------------

    def _plan(self, fields: dict[str, str], message: BaseMessage, settings: Settings) -> _Plan:
        openid = fields["FromUserName"]
        if isinstance(message, BaseEvent) or fields["MsgType"].lower() == "event":
            return self._event_plan(fields, openid)
        msg_id = fields.get("MsgId", "")
        if msg_id and not _DIGITS.fullmatch(msg_id):
            raise ApiError(400, "invalid_msg_id", "MsgId 不正确", "MsgId must be a number")
        plan = _Plan(message_id=msg_id or f"{openid}:{fields['CreateTime']}", openid=openid)
        msg_type = fields["MsgType"].lower()

        def new(**kwargs: Any) -> InboundMessage:
            return InboundMessage(channel=self.name, sender=openid, message_id=plan.message_id, **kwargs)

        if msg_type == "text":
            content = fields.get("Content", "")
            if len(content) > settings.max_message_chars:
                plan.direct = TOO_LONG.format(max_chars=settings.max_message_chars)
                plan.text = content[: settings.max_message_chars]
            else:
                plan.inbound = new(text=content, kind="text")
        elif msg_type == "voice":
            media = {"media_id": fields.get("MediaId", ""), "format": fields.get("Format", "")}
            recognition = fields.get("Recognition", "").strip()
            if recognition:
                plan.inbound = new(text=recognition[: settings.max_message_chars], kind="voice", media=media)
            else:
                plan.kind, plan.direct = "voice", VOICE_UNRECOGNIZED
        elif msg_type == "location":
            label = fields.get("Label", "").strip()[:200] or None
            location = _location(fields.get("Location_X"), fields.get("Location_Y"), label)
            plan.location = location
            plan.inbound = new(
                text=label or "", kind="location", location=location, metadata={"intent": "share_location"}
            )
        elif msg_type == "image":
            media = {"media_id": fields.get("MediaId", ""), "pic_url": fields.get("PicUrl", "")}
            plan.inbound = new(text="", kind="image", media=media, metadata={"intent": "share_photo"})
        else:  # video, shortvideo, link, file, miniprogrampage, ...
            plan.kind, plan.direct = msg_type[:32], UNSUPPORTED
        return plan

    def _event_plan(self, fields: dict[str, str], openid: str) -> _Plan:
        event = fields.get("Event", "")
        if not _EVENT.fullmatch(event):
            raise ApiError(400, "invalid_event", "事件类型不正确", "Event missing or malformed")
        plan = _Plan(message_id=f"{openid}:{fields['CreateTime']}:{event}", openid=openid, kind="event")
        key = fields.get("EventKey", "")[:128]
        name = event.lower()

        def dialogue(intent: str) -> InboundMessage:
            return InboundMessage(
                channel=self.name, sender=openid, message_id=plan.message_id, kind="event",
                event=event, event_key=key or None, metadata={"intent": intent},
            )

        if name == "subscribe":  # also scanning a QR code to follow (EventKey qrscene_...)
            plan.inbound = dialogue("greet")
        elif name == "unsubscribe":
            plan.unsubscribe = True
        elif name == "click":
            plan.inbound = dialogue(MENU_KEYS.get(key, "help"))
        elif name == "location":
            plan.location = _location(fields.get("Latitude"), fields.get("Longitude"), None)
            plan.precision = _float(fields.get("Precision"), default=None)
        # VIEW, SCAN, TEMPLATESENDJOBFINISH, ...: nothing to say
        return plan

    # -- answering -------------------------------------------------------------

    async def _answer(self, app: web.Application | None, plan: _Plan, message: BaseMessage) -> str:
        """The plaintext answer (reply XML or `success`), once per message id. (`app` is not
        used: the channel was given what it needs.)"""
        dedup = self._dedup()
        claim = await dedup.claim(self.name, plan.dedup_id)
        if not claim.new:
            stored = claim.replies or await dedup.wait(self.name, plan.dedup_id, self.settings.wechat_reply_budget)
            return _stored_body(stored)
        try:
            body = await self._process(plan, message)
        except NLUNotReady:
            await dedup.release(self.name, plan.dedup_id)
            return _reply_xml(message, STARTING)
        except BaseException:
            if not plan.delegated:
                await dedup.release(self.name, plan.dedup_id)
            raise
        if plan.erased:
            await dedup.release(self.name, plan.dedup_id)
        else:
            await dedup.finish(self.name, plan.dedup_id, [{"body": body}])
        return body

    async def _process(self, plan: _Plan, message: BaseMessage) -> str:
        chat: ChatService = self._chat()
        if plan.location is not None:
            await self._remember_location(plan)
        if plan.unsubscribe:
            await chat.states.clear(f"{self.name}:{plan.openid}")
            await self._redis().delete(LASTLOC_KEY.format(openid=plan.openid))
            return SUCCESS
        if plan.direct is not None:
            await self._record_direct(chat, plan)
            return _reply_xml(message, plan.direct)
        if plan.inbound is None:
            return SUCCESS
        if plan.inbound.kind == "image" and self._media() is not None:
            # WeChat keeps media for 3 days: the photo is fetched into GridFS now.
            self._media().fetch_soon(plan.inbound.media["media_id"], plan.inbound.user_key)
        return await self._dialogue(chat, plan, message)

    async def _dialogue(self, chat: ChatService, plan: _Plan, message: BaseMessage) -> str:
        """Run the dialogue; answer passively within the budget, else `success` and
        send the reply later. asyncio.wait never cancels the task it waits for."""
        task = asyncio.create_task(chat.handle(plan.inbound))
        try:
            done, _ = await asyncio.wait({task}, timeout=self.settings.wechat_reply_budget)
        except asyncio.CancelledError:  # the request went away: still deliver the reply
            self._deliver_later(task, plan)
            raise
        if task in done:
            replies = task.result()
            text = render_text(replies)
            if any(r.transfer_to_human for r in replies) and self._client() is not None:
                # 转人工: the transfer reply carries no text, so the text goes as a
                # customer-service message.
                self._send_text_later(plan.openid, text)
                return TransferCustomerServiceReply(message=message).render()
            return _reply_xml(message, text) if text else SUCCESS
        log.info("WeChat message %s over the reply budget: replying via the customer-service API", plan.message_id)
        self._deliver_later(task, plan)
        return SUCCESS

    def _deliver_later(self, task: asyncio.Task, plan: _Plan) -> None:
        plan.delegated = True
        background = asyncio.create_task(self._deliver(task, plan.dedup_id, plan.openid, plan))
        self._tasks.add(background)
        background.add_done_callback(self._tasks.discard)

    async def _deliver(self, task: asyncio.Task, message_id: str, openid: str,
                       plan: _Plan | None = None) -> None:
        """Await the dialogue and send its reply as a customer-service message. Retries
        of the message are answered `success` from now on."""
        try:
            await self._dedup().finish(self.name, message_id, [{"body": SUCCESS}])
        except Exception:
            log.exception("could not mark WeChat message %s as answered", message_id)
        try:
            text = render_text(await task)
        except NLUNotReady:
            text = STARTING
        except Exception:
            log.exception("WeChat dialogue failed for %s after the reply budget", openid)
            text = FAILED
        if plan is not None and plan.erased:
            await self._dedup().release(self.name, message_id)
        if not text:
            return
        client = self._client()
        if client is None:
            log.error("no WECHAT_APP_ID/WECHAT_APP_SECRET: late reply to %s cannot be sent", openid)
            return
        try:
            result = await client.send_text(openid, text)
        except Exception:
            log.exception("customer-service message to %s failed", openid)
            return
        if not result.delivered:
            log.warning("late reply to %s not delivered (%d %s)", openid, result.errcode, result.errmsg)

    def _send_text_later(self, openid: str, text: str) -> None:
        async def send() -> None:
            try:
                result = await self._client().send_text(openid, text)
                if not result.delivered:
                    log.warning("handoff text to %s not delivered (%d %s)", openid, result.errcode, result.errmsg)
            except Exception:
                log.exception("handoff text to %s failed", openid)

        background = asyncio.create_task(send())
        self._tasks.add(background)
        background.add_done_callback(self._tasks.discard)

    async def _record_direct(self, chat: ChatService, plan: _Plan) -> None:
        user_key = f"{self.name}:{plan.openid}"
        state = await chat.states.load(user_key)
        await chat.conversations.record_turn(
            user_key=user_key, channel=self.name, user=plan.openid, kind=plan.kind, text=plan.text,
            message_id=plan.message_id, intent=None, confidence=None, entities=[],
            replies=[Reply(plan.direct).as_dict()], flow=state.flow, received_at=datetime.now(timezone.utc),
        )

    async def _remember_location(self, plan: _Plan) -> None:
        loc = plan.location
        value = {
            "latitude": loc.latitude, "longitude": loc.longitude, "label": loc.label,
            "precision": plan.precision, "at": datetime.now(timezone.utc).isoformat(),
        }
        await self._redis().set(
            LASTLOC_KEY.format(openid=plan.openid), json.dumps(value, ensure_ascii=False), ex=LASTLOC_TTL_SECONDS
        )


# -- helpers -------------------------------------------------------------------


def render_text(replies: list[Reply]) -> str:
    """All replies as one text; buttons not already in the text become numbered lines
    (numbered by their payload when it is a menu number)."""
    parts = []
    for reply in replies:
        lines = [reply.text] if reply.text else []
        for position, button in enumerate(reply.buttons, start=1):
            if button.title in reply.text:
                continue
            if button.title[:1].isdigit():
                lines.append(button.title)
            elif button.payload.isdigit() and len(button.payload) <= 2:
                lines.append(f"{button.payload} {button.title}")
            else:
                lines.append(f"{position} {button.title}")
        if lines:
            parts.append("\n".join(lines))
    return "\n\n".join(parts)


def _reply_xml(message: BaseMessage, text: str) -> str:
    """A wechatpy text reply; text made safe for its CDATA section."""
    content = _XML_INVALID.sub("", text).replace("]]>", "]]]]><![CDATA[>")
    return TextReply(message=message, content=content).render()


def _stored_body(stored: list[dict[str, Any]] | None) -> str:
    if stored and isinstance(stored[0], dict) and isinstance(stored[0].get("body"), str):
        return stored[0]["body"]
    return SUCCESS  # still being processed: WeChat shows nothing and does not retry


def _utf8(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "invalid_xml", "消息格式不正确", "body is not UTF-8") from None


def _safe_root(xml: str) -> Element:
    """Parse with defusedxml: DTDs, entities and external references are refused."""
    try:
        root = SafeET.fromstring(xml, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise ApiError(400, "forbidden_xml", "消息格式不正确", "DTDs and entities are not allowed") from None
    except (ParseError, ValueError):
        raise ApiError(400, "invalid_xml", "消息格式不正确", "body is not well-formed XML") from None
    if root.tag != "xml":
        raise ApiError(400, "invalid_xml", "消息格式不正确", "root element must be <xml>")
    return root


def _parse(xml: str) -> tuple[dict[str, str], BaseMessage]:
    """Validated top-level fields and wechatpy's message object."""
    root = _safe_root(xml)
    fields: dict[str, str] = {}
    for child in root:
        if child.tag in fields:
            raise ApiError(400, "invalid_xml", "消息格式不正确", f"duplicate element {child.tag}")
        if len(child) and child.tag not in _NESTED:
            raise ApiError(400, "invalid_xml", "消息格式不正确", f"unexpected children in {child.tag}")
        fields[child.tag] = child.text or ""
    for name in ("ToUserName", "FromUserName", "CreateTime", "MsgType"):
        if not fields.get(name, "").strip():
            raise ApiError(400, "invalid_xml", "消息格式不正确", f"{name} missing")
    if not _OPENID.fullmatch(fields["FromUserName"]):
        raise ApiError(400, "invalid_xml", "消息格式不正确", "FromUserName malformed")
    if not _DIGITS.fullmatch(fields["CreateTime"]):
        raise ApiError(400, "invalid_xml", "消息格式不正确", "CreateTime must be Unix seconds")
    try:
        message = parse_message(xml)  # the document is known safe now
    except Exception:  # wechatpy's own parse of an unusual document
        raise ApiError(400, "invalid_xml", "消息格式不正确", "message could not be read") from None
    return fields, message


def _float(raw: str | None, default: float | None) -> float | None:
    try:
        return float(raw) if raw not in (None, "") else default
    except ValueError:
        return default


def _location(lat_raw: str | None, lon_raw: str | None, label: str | None) -> Location:
    lat, lon = _float(lat_raw, None), _float(lon_raw, None)
    if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ApiError(400, "invalid_location", "位置信息不正确", "coordinates missing or out of range")
    return Location(latitude=lat, longitude=lon, label=label)
