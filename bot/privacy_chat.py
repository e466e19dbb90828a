"""PIPL rights in chat, for WeChat and REST residents (the mini-program has /api/v1/me).

`PrivacyRequests` is built by the composition root (bot/bootstrap.py) and asked by the
chat pipeline (bot/chat.py) before the dialogue, so it works in any flow and needs no NLU:
- "导出我的数据" / "查看我的个人信息": a one-time link to a JSON export
  (GET /privacy/export/{token}): the token lives in Redis for `EXPORT_TTL` seconds,
  only its SHA-256 is kept, and it answers once (GETDEL). A new request replaces the
  previous link.
- "注销" / "删除我的数据": asks for confirmation, held in Redis for `PENDING_TTL`
  seconds; "确认注销" (or 1) runs the registry-driven erasure of storage/personal_data.py
  for the resident behind this identity (or, for someone who only chatted, for the
  identity itself); "取消" (or 2) keeps everything; any other message drops the request
  and goes on to the dialogue. Nothing of the erasing turn is stored afterwards: the
  channels see `metadata["erased"]` and keep no de-duplication entry for it.
Both keys are in storage/pii_registry.py, so an erasure also ends a pending link.
"""
from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from redis.asyncio import Redis

from handlers.messages import Button, InboundMessage, Reply
from handlers.text import normalize
from services.personal_data import PersonalData
from storage.conversations import ConversationRepository
from storage.dialogue_state import DialogueStateStore

CHANNELS = frozenset({"wechat", "rest"})
PENDING_KEY = "linli:privacy:pending:{user_key}"
ISSUED_KEY = "linli:privacy:issued:{user_key}"
EXPORT_KEY = "linli:privacy:export:{value}"
PENDING_TTL = 5 * 60
EXPORT_TTL = 10 * 60
EXPORT_PATH = "/privacy/export/{token}"
ERASED = "erased"  # InboundMessage.metadata flag: nothing of this turn may be kept

_ASK = r"(?:我要|我想|我想要|想|要|请|麻烦|帮我|请帮我|能不能|可以)?"
_END = r"(?:一下|下|吧|呢|吗|可以吗|谢谢)?[。.!！?？~～]*"
_MINE = r"(?:我的|我|本人的?)(?:全部|所有|个人)?(?:的)?"
_DATA = r"(?:个人)?(?:数据|信息|资料|隐私数据|隐私信息)"
EXPORT = re.compile(
    rf"{_ASK}(?:导出|下载|查看|查询|看看|看一下|调取|获取|给我){_MINE}{_DATA}{_END}"
    rf"|{_ASK}(?:导出|下载){_DATA}{_END}|{_ASK}{_MINE}{_DATA}(?:导出|下载){_END}"
)
ERASE = re.compile(
    rf"{_ASK}(?:注销|销户|注销(?:我的)?(?:账号|帐号|账户|帐户|用户))(?:我的)?(?:账号|帐号|账户|帐户)?{_END}"
    rf"|{_ASK}(?:删除|删掉|清除|抹掉){_MINE}{_DATA}(?:和(?:账号|帐号|账户|帐户|记录))?{_END}"
    rf"|{_ASK}把?{_MINE}{_DATA}(?:全部|都)?(?:删除|删掉|清除)掉?{_END}"
)
YES = frozenset({"确认注销", "确定注销", "确认删除", "确定删除", "1", "确认", "确定", "是", "是的", "对", "好的"})
NO = frozenset({"取消", "不注销", "不删除", "不要", "不用了", "算了", "2", "不", "否", "取消注销"})

ASK_CONFIRM = (
    "您要注销并删除在邻里保存的个人信息：聊天记录、进行中的对话、工单和预约里的联系方式、"
    "共享与求助的发布内容等都会删除或去除个人信息，工单等记录只保留事实，不能恢复；进行中的预约会取消。\n"
    "1 确认注销（或回复“确认注销”）\n2 取消\n"
    "5分钟内不确认，本次申请作废。"
)
CANCELLED = "好的，已取消注销，您的信息都还在。"
DONE = "已为您注销，个人信息已删除。以后再发消息，我们会当作新用户为您服务。感谢您对社区工作的支持！"
EXPORT_READY = (
    "您的个人数据已准备好（JSON 文件），请在10分钟内打开下面的链接下载，链接只能使用一次：\n{url}\n"
    "请不要把链接转发给别人。如需再次下载，再说“导出我的数据”即可。"
)
LINK_HIDDEN = "（一次性下载链接，记录中已隐去）"


def digest(token: str) -> str:
    """What is kept of an export token (its SHA-256)."""
    return hashlib.sha256(token.encode()).hexdigest()


class PrivacyRequests:
    """Export and erasure said in chat, done by the PIPL service (services/personal_data.py)."""

    def __init__(self, personal_data: PersonalData, redis: Redis, states: DialogueStateStore,
                 conversations: ConversationRepository, public_url: str) -> None:
        """`redis` holds the pending erasures and the export links; `public_url` is where
        residents open the link."""
        self.personal_data = personal_data
        self.redis = redis
        self.states, self.conversations = states, conversations
        self.public_url = public_url.rstrip("/")

    async def intercept(self, message: InboundMessage) -> list[Reply] | None:
        """Replies when the message is a data-rights request or its confirmation; None
        lets the dialogue answer."""
        if message.channel not in CHANNELS or message.kind not in ("text", "voice") or message.metadata.get("intent"):
            return None
        text = normalize(message.text)
        pending_key = PENDING_KEY.format(user_key=message.user_key)
        if await self.redis.get(pending_key):
            # One chance: the request goes with this message, whatever it says; the confirming
            # message that deletes it runs the erasure (a concurrent duplicate does not).
            taken = await self.redis.delete(pending_key)
            if text in YES and taken:
                return await self._erase(message)
            if text in NO:
                return await self._answer(message, text, "privacy_cancel", [Reply(CANCELLED)])
        if ERASE.fullmatch(text):
            await self.redis.set(pending_key, "erase", ex=PENDING_TTL)
            buttons = [Button("确认注销", "1"), Button("取消", "2")]
            return await self._answer(message, text, "privacy_erase", [Reply(ASK_CONFIRM, buttons)])
        if EXPORT.fullmatch(text):
            url = await self._issue_export(message.user_key)
            reply = Reply(EXPORT_READY.format(url=url))
            return await self._answer(message, text, "privacy_export", [reply],
                                      logged=[Reply(EXPORT_READY.format(url=LINK_HIDDEN))])
        return None

    async def redeem_export(self, token: str) -> str | None:
        """The identity behind a one-time export token, once (None: unknown, expired or used)."""
        if not re.fullmatch(r"[\w\-]{16,64}", token):
            return None
        value = digest(token)
        user_key = await self.redis.getdel(EXPORT_KEY.format(value=value))
        if not user_key:
            return None
        issued_key = ISSUED_KEY.format(user_key=user_key)
        if await self.redis.get(issued_key) == value:
            await self.redis.delete(issued_key)
        return user_key

    async def export(self, user_key: str) -> dict[str, Any]:
        """Everything kept about the person behind `user_key`."""
        return await self.personal_data.export(await self.personal_data.of_identity(user_key))

    async def _answer(self, message: InboundMessage, text: str, intent: str, replies: list[Reply],
                      logged: list[Reply] | None = None) -> list[Reply]:
        state = await self.states.load(message.user_key)
        await self.conversations.record_turn(
            user_key=message.user_key, channel=message.channel, user=message.sender, kind=message.kind, text=text,
            message_id=message.message_id, intent=intent, confidence=1.0, entities=[],
            replies=[r.as_dict() for r in (logged or replies)], flow=state.flow, received_at=message.received_at,
        )
        return replies

    async def _issue_export(self, user_key: str) -> str:
        token = secrets.token_urlsafe(24)
        issued_key = ISSUED_KEY.format(user_key=user_key)
        previous = await self.redis.get(issued_key)
        async with self.redis.pipeline(transaction=True) as pipe:
            if previous:
                pipe.delete(EXPORT_KEY.format(value=previous))
            pipe.set(EXPORT_KEY.format(value=digest(token)), user_key, ex=EXPORT_TTL)
            pipe.set(issued_key, digest(token), ex=EXPORT_TTL)
            await pipe.execute()
        return self.public_url + EXPORT_PATH.format(token=token)

    async def _erase(self, message: InboundMessage) -> list[Reply]:
        async with self.states.locked(message.user_key):
            await self.personal_data.erase(await self.personal_data.of_identity(message.user_key))
        message.metadata[ERASED] = True
        return [Reply(DONE)]
