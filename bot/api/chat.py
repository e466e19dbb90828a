"""POST /api/v1/chat: the mini-program's chat, as the logged-in resident.

The sender is the resident behind the session token (`mp:<openid>`), never a field of
the body, so nobody can talk as someone else. Body {"message": "...", "message_id"?: "..."};
a retry with the same `message_id` gets the first answer. Per-resident chat rate limit
(`rate_chat_per_minute`) on top of the API's own.
"""
from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import TOKEN, current_resident, rate_limit
from bot.api.spec import BAD_REQUEST, COMMON, ok
from bot.api.validation import get_field, invalid, read_object, reject_unknown
from bot.channels.rest import answer_once
from bot.errors import ApiError
from bot.messages import InboundMessage, Reply
from bot.text import normalize

routes = web.RouteTableDef()
CHANNEL = "mp"
_MESSAGE_ID = re.compile(r"[\w.:\-]{1,128}")


def _render(replies: list[Reply]) -> list[dict[str, Any]]:
    return [reply.as_dict() for reply in replies]


async def _sender(request: web.Request) -> str:
    """The openid of the session's `mp:<openid>` user key."""
    session = await request.config_dict[keys.API_SESSIONS].get(request[TOKEN]) or {}
    user_key = session.get("user_key")
    if not isinstance(user_key, str) or not user_key.startswith(f"{CHANNEL}:"):
        raise ApiError(401, "unauthorized", "请先登录", "session has no mini-program identity")
    return user_key.split(":", 1)[1]


@routes.post(f"{PREFIX}/chat")
async def chat(request: web.Request) -> web.Response:
    resident = current_resident(request)
    settings = request.config_dict[keys.SETTINGS]
    body = await read_object(request)
    reject_unknown(body, {"message", "message_id"})
    text = get_field(body, "message", str, max_len=None)
    message_id = get_field(body, "message_id", str, required=False, max_len=128)
    if message_id is not None and not _MESSAGE_ID.fullmatch(message_id):
        raise invalid("message_id", "格式不正确", "must be 1-128 letters, digits or ._:-")
    if not normalize(text):
        raise ApiError(400, "empty_message", "消息是空的，请输入内容", "message is empty")
    if len(text) > settings.max_message_chars:
        raise ApiError(413, "message_too_long", f"消息太长了，请控制在{settings.max_message_chars}字以内",
                       f"message longer than {settings.max_message_chars} characters")
    await rate_limit(request, f"chat:{CHANNEL}:{resident.id}", settings.rate_chat_per_minute)
    message = InboundMessage(channel=CHANNEL, sender=await _sender(request), text=text, message_id=message_id)
    replies = await answer_once(request, CHANNEL, message, _render)
    return json_response({"replies": replies})


OPENAPI: dict[str, Any] = {
    f"{PREFIX}/chat": {
        "post": {
            "tags": ["chat"],
            "summary": "和社区助手对话（以登录的居民身份）",
            "operationId": "chat",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ChatRequest"}}}},
            "responses": {
                **ok("ChatResponse", "助手的回复"),
                **BAD_REQUEST,
                "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                **COMMON,
            },
        }
    }
}

OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "ChatRequest": {
            "type": "object", "required": ["message"], "additionalProperties": False,
            "properties": {
                "message": {"type": "string", "description": "居民说的话"},
                "message_id": {"type": "string", "maxLength": 128, "description": "重发同一条消息时带上，只处理一次"},
            },
        },
        "ChatResponse": {
            "type": "object", "required": ["replies"],
            "properties": {"replies": {"type": "array", "items": {
                "type": "object",
                "properties": {
                    "text": {"type": "string"},
                    "buttons": {"type": "array", "items": {"type": "object", "properties": {
                        "title": {"type": "string"}, "payload": {"type": "string"}}}},
                },
            }}},
        },
    }
}
