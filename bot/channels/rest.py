"""Rasa-compatible REST channel: POST /webhooks/rest/webhook.

Request  {"sender": "...", "message": "...", "metadata": {...}}
Response [{"recipient_id": "...", "text": "...", "buttons": [{"title", "payload"}]}]

An optional `metadata.message_id` makes a client's retry safe: the retry gets the
first answer and nothing is processed or stored twice.
"""
from __future__ import annotations

import hmac
import json
import re
from typing import Any

from aiohttp import web

from bot import keys
from bot.chat import ChatService
from bot.errors import ApiError
from bot.messages import InboundMessage, Reply
from bot.text import normalize

_SENDER = re.compile(r"[\w.@:\-]{1,128}")
_MESSAGE_ID = re.compile(r"[\w.:\-]{1,128}")


def _json_response(body: Any) -> web.Response:
    return web.json_response(body, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


class RestChannel:
    name = "rest"
    path = "/webhooks/rest/webhook"

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.path, self.receive)]

    async def receive(self, request: web.Request) -> web.Response:
        settings = request.app[keys.SETTINGS]
        self._check_token(request, settings.rest_token)
        message = self._parse(await self._json(request), settings.max_message_chars)
        await self._rate_limit(request, message.user_key, settings.rate_chat_per_minute)
        dedup = request.app[keys.DEDUP]
        dedup_id = f"{message.sender}:{message.message_id}"
        if message.message_id:
            claim = await dedup.claim(self.name, dedup_id)
            if not claim.new:
                replies = claim.replies or await dedup.wait(self.name, dedup_id, 10)
                if replies is None:
                    raise ApiError(409, "in_progress", "这条消息正在处理，请稍候", "message is still being processed")
                return _json_response(replies)
        chat: ChatService = request.app[keys.CHAT]
        try:
            replies = await chat.handle(message)
        except BaseException:
            if message.message_id:
                await dedup.release(self.name, dedup_id)
            raise
        body = [self._render(message.sender, reply) for reply in replies]
        if message.message_id and message.metadata.get("erased"):
            await dedup.release(self.name, dedup_id)  # an erased identity keeps no marker either
        elif message.message_id:
            await dedup.finish(self.name, dedup_id, body)
        return _json_response(body)

    @staticmethod
    def _check_token(request: web.Request, token: str | None) -> None:
        if not token:
            return
        given = request.query.get("token", "")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[len("Bearer "):]
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "bad_token", "渠道令牌无效", "missing or wrong channel token")

    @staticmethod
    async def _rate_limit(request: web.Request, user_key: str, per_minute: int) -> None:
        decision = await request.app[keys.RATE_LIMITER].hit(f"chat:{user_key}", per_minute, 60)
        if not decision.allowed:
            raise ApiError(
                429, "rate_limited", "消息发得太快了，请稍等一会儿再发", f"more than {per_minute} messages per minute",
                headers={"Retry-After": str(decision.retry_after)},
            )

    @staticmethod
    async def _json(request: web.Request) -> Any:
        raw = await request.read()  # enforces client_max_size (413)
        try:
            return json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise ApiError(400, "invalid_json", "请求不是有效的 JSON", "body is not valid UTF-8 JSON") from None

    @staticmethod
    def _parse(body: Any, max_chars: int) -> InboundMessage:
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_body", "请求必须是 JSON 对象", "body must be a JSON object")
        sender, text, metadata = body.get("sender"), body.get("message"), body.get("metadata") or {}
        if not isinstance(sender, str) or not _SENDER.fullmatch(sender):
            raise ApiError(
                400, "invalid_sender", "sender 必须是 1-128 位字母、数字或 ._-@: 组成的字符串",
                "sender must be a string of 1-128 letters, digits or ._-@:",
            )
        if not isinstance(text, str):
            raise ApiError(400, "invalid_message", "message 必须是字符串", "message must be a string")
        if not isinstance(metadata, dict):
            raise ApiError(400, "invalid_metadata", "metadata 必须是 JSON 对象", "metadata must be an object")
        message_id = metadata.get("message_id")
        if message_id is not None and (not isinstance(message_id, str) or not _MESSAGE_ID.fullmatch(message_id)):
            raise ApiError(400, "invalid_message_id", "message_id 格式不正确", "metadata.message_id must be a short string")
        if not normalize(text):
            raise ApiError(400, "empty_message", "消息是空的，请输入内容", "message is empty")
        if len(text) > max_chars:
            raise ApiError(
                413, "message_too_long", f"消息太长了，请控制在{max_chars}字以内",
                f"message longer than {max_chars} characters",
            )
        return InboundMessage(channel="rest", sender=sender, text=text, message_id=message_id)

    @staticmethod
    def _render(recipient: str, reply: Reply) -> dict[str, Any]:
        return {"recipient_id": recipient, **reply.as_dict()}
