"""WeChat Official Account channel: GET|POST /wechat (plain and AES safe mode).

GET   URL verification: signature = sha1(sorted([token, timestamp, nonce])), echo `echostr`.
POST  a message or event as XML (encrypted in safe mode), answered with reply XML or
      `success` (nothing to say now).

Like Rasa's input channels, the channel turns a WeChat message into an InboundMessage for
its message handler (the chat pipeline) and its replies into WeChat's answer. Who may post
(signatures, timestamps, replays, AES) is bot/channels/wechat_security.py; reading and
writing the XML is bot/channels/wechat_xml.py. WeChat retries a message that is not
answered within 5 s up to three times, possibly on another worker: messages are claimed
once by FromUserName + MsgId (events by FromUserName + CreateTime + Event) in Redis, a
retry gets the first answer. Plain mode logs a warning at start-up (use safe mode). A
dialogue that takes longer than the reply budget is answered `success` and its reply is
sent later through the customer-service message API.
"""
from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Mapping

from aiohttp import web
from wechatpy.events import BaseEvent
from wechatpy.messages import BaseMessage
from wechatpy.replies import TransferCustomerServiceReply
from redis.asyncio import Redis

from bot.channels.wechat_security import WeChatSecurity
from bot.channels.wechat_xml import DIGITS, parse_float, parse_message_xml, read_location, render_text, reply_xml
from bot.chat import ChatService, NLUNotReady
from bot.config import Settings
from bot.errors import ApiError
from bot.wechat_api import WeChatClient
from handlers import registry as handler_registry
from handlers.messages import InboundMessage, Location, Reply
from services.background import BackgroundTasks
from services.locations import RecentLocations
from services.wechat_media import WeChatMedia
from storage.dedup import Deduplicator

log = logging.getLogger(__name__)

SUCCESS = "success"
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

_EVENT = re.compile(r"\w{1,64}", re.ASCII)


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
        locations: Callable[[], RecentLocations],
        client: Callable[[], WeChatClient | None] = lambda: None,
        media: Callable[[], WeChatMedia | None] = lambda: None,
    ) -> None:
        """Given what it uses (getters: the app builds them when it starts, bot/bootstrap.py):
        the chat pipeline (its message handler, forgetting a dialogue, logging a turn the
        channel answers itself), the de-duplicator, Redis (replay checks), the residents'
        last locations, the API client for customer-service messages and the photo fetcher."""
        if not settings.wechat_token:
            raise ValueError("the WeChat channel needs WECHAT_TOKEN")
        self.settings = settings
        self._chat, self._dedup, self._locations = chat, dedup, locations
        self._client, self._media = client, media
        self.security = WeChatSecurity(
            settings.wechat_token, aes_key=settings.wechat_aes_key, app_id=settings.wechat_app_id, redis=redis
        )
        self._background = BackgroundTasks("WeChat deliveries")
        if not self.security.safe_mode:
            log.warning(
                "WeChat channel in plain mode: messages are neither encrypted nor signed over their body; "
                "set WECHAT_AES_KEY (safe mode, 安全模式) in production"
            )

    def routes(self) -> list[web.RouteDef]:
        return [web.get(self.path, self.verify), web.post(self.path, self.receive)]

    async def drain(self, timeout: float = DRAIN_SECONDS) -> None:
        """Wait for background deliveries; cancel what is still running after `timeout`."""
        await self._background.drain(timeout)

    # -- HTTP ------------------------------------------------------------------

    async def verify(self, request: web.Request) -> web.Response:
        """WeChat's URL verification when the server address is configured."""
        self.security.check_verification(request.query)
        echostr = request.query.get("echostr", "")
        if not echostr or len(echostr) > 128:
            raise ApiError(400, "invalid_echostr", "缺少 echostr 参数", "echostr missing or too long")
        return web.Response(text=echostr, content_type="text/plain")

    async def receive(self, request: web.Request) -> web.Response:
        timestamp, nonce = self.security.check_message(request.query)
        raw = await request.read()  # enforces client_max_size (413)
        xml = await self.security.open(raw, request.query, timestamp, nonce)
        fields, message = parse_message_xml(xml)
        plan = self._plan(fields, message, self.settings)
        body = await self._answer(request.app, plan, message)
        return self._respond(body, nonce)

    def _respond(self, body: str, nonce: str) -> web.Response:
        if body == SUCCESS:
            return web.Response(text=SUCCESS, content_type="text/plain")
        return web.Response(text=self.security.seal(body, nonce), content_type="application/xml")

    # -- messages -> plan --------------------------------------------------------

    def _plan(self, fields: dict[str, str], message: BaseMessage, settings: Settings) -> _Plan:
        openid = fields["FromUserName"]
        if isinstance(message, BaseEvent) or fields["MsgType"].lower() == "event":
            return self._event_plan(fields, openid)
        msg_id = fields.get("MsgId", "")
        if msg_id and not DIGITS.fullmatch(msg_id):
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
            location = read_location(fields.get("Location_X"), fields.get("Location_Y"), label)
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
            plan.location = read_location(fields.get("Latitude"), fields.get("Longitude"), None)
            plan.precision = parse_float(fields.get("Precision"), default=None)
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
            return reply_xml(message, STARTING)
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
            await chat.forget(f"{self.name}:{plan.openid}")
            await self._locations().forget(plan.openid)
            return SUCCESS
        if plan.direct is not None:
            await chat.record_direct(
                user_key=f"{self.name}:{plan.openid}", channel=self.name, user=plan.openid, kind=plan.kind,
                text=plan.text, message_id=plan.message_id, replies=[Reply(plan.direct)])
            return reply_xml(message, plan.direct)
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
            return reply_xml(message, text) if text else SUCCESS
        log.info("WeChat message %s over the reply budget: replying via the customer-service API", plan.message_id)
        self._deliver_later(task, plan)
        return SUCCESS

    def _deliver_later(self, task: asyncio.Task, plan: _Plan) -> None:
        plan.delegated = True
        self._background.start(self._deliver(task, plan.dedup_id, plan.openid, plan))

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

        self._background.start(send())

    async def _remember_location(self, plan: _Plan) -> None:
        loc = plan.location
        await self._locations().remember(plan.openid, loc.latitude, loc.longitude, loc.label, plan.precision)


# -- helpers -------------------------------------------------------------------


def _stored_body(stored: list[dict[str, Any]] | None) -> str:
    if stored and isinstance(stored[0], dict) and isinstance(stored[0].get("body"), str):
        return stored[0]["body"]
    return SUCCESS  # still being processed: WeChat shows nothing and does not retry
