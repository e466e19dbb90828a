"""POST /api/v1/chat: the mini-program's chat, as the logged-in resident.

The sender is the resident behind the session token (`mp:<openid>`), never a field of
the body, so nobody can talk as someone else. Body {"message": "...", "message_id"?: "..."};
a retry with the same `message_id` gets the first answer. Per-resident chat rate limit
(`rate_chat_per_minute`) on top of the API's own.
"""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import TOKEN, current_resident, rate_limit
from bot.api.models.base import read_body
from bot.api.models.chat import ChatReply, ChatRequest, ChatResponse
from bot.api.spec import TOO_LARGE, operations
from bot.channels.rest import answer_once
from bot.errors import ApiError
from bot.messages import InboundMessage, Reply
from bot.text import normalize

routes = web.RouteTableDef()
op = operations("chat")
CHANNEL = "mp"


def _render(replies: list[Reply]) -> list[dict[str, Any]]:
    """The replies as sent (and as kept for a retry with the same message_id)."""
    return [ChatReply.of(reply).sent() for reply in replies]


async def _sender(request: web.Request) -> str:
    """The openid of the session's `mp:<openid>` user key."""
    session = await request.config_dict[keys.API_SESSIONS].get(request[TOKEN]) or {}
    user_key = session.get("user_key")
    if not isinstance(user_key, str) or not user_key.startswith(f"{CHANNEL}:"):
        raise ApiError(401, "unauthorized", "请先登录", "session has no mini-program identity")
    return user_key.split(":", 1)[1]


@routes.post(f"{PREFIX}/chat")
@op("chat", "和社区助手对话（以登录的居民身份）", body=ChatRequest,
    answers={200: (ChatResponse, "助手的回复"), 413: TOO_LARGE})
async def chat(request: web.Request) -> web.Response:
    resident = current_resident(request)
    settings = request.config_dict[keys.SETTINGS]
    body = await read_body(request, ChatRequest)
    text = body.message
    if not normalize(text):
        raise ApiError(400, "empty_message", "消息是空的，请输入内容", "message is empty")
    if len(text) > settings.max_message_chars:
        raise ApiError(413, "message_too_long", f"消息太长了，请控制在{settings.max_message_chars}字以内",
                       f"message longer than {settings.max_message_chars} characters")
    await rate_limit(request, f"chat:{CHANNEL}:{resident.id}", settings.rate_chat_per_minute)
    message = InboundMessage(channel=CHANNEL, sender=await _sender(request), text=text, message_id=body.message_id)
    replies = await answer_once(request, CHANNEL, message, _render)
    return json_response(ChatResponse(replies=[ChatReply(**reply) for reply in replies]).sent())
