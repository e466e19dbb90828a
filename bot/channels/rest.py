"""Rasa-compatible REST channel: POST /webhooks/rest/webhook.

Request  {"sender": "...", "message": "...", "metadata": {...}}
Response [{"recipient_id": "...", "text": "...", "buttons": [{"title", "payload"}]}]

An optional `metadata.message_id` makes a client's retry safe: the retry gets the
first answer and nothing is processed or stored twice.

Like Rasa's input channels, the channel knows only its message handler (`on_message`,
the chat pipeline) and what it is given at construction: its settings, the de-duplicator
and the rate limiter (bot/bootstrap.py builds those when the app starts, hence getters).
"""
from __future__ import annotations

import hmac
import json
import re
from typing import Any, Awaitable, Callable

from aiohttp import web

from bot import keys
from bot.json_body import read_json
from bot.config import Settings
from bot.errors import ApiError
from bot.remote import is_loopback
from handlers.messages import InboundMessage, Reply
from handlers.text import normalize
from storage.dedup import Deduplicator
from storage.rate_limit import RateLimiter

OnMessage = Callable[[InboundMessage], Awaitable[list[Reply]]]

_SENDER = re.compile(r"[\w.@:\-]{1,128}")
_MESSAGE_ID = re.compile(r"[\w.:\-]{1,128}")


def _json_response(body: Any) -> web.Response:
    return web.json_response(body, dumps=lambda obj: json.dumps(obj, ensure_ascii=False))


async def answer_once(
    request: web.Request, scope: str, message: InboundMessage, render: Callable[[list[Reply]], list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """`reply_once` with the app's de-duplicator and chat (for handlers of the app's own routes)."""
    return await reply_once(request.config_dict[keys.DEDUP], request.config_dict[keys.CHAT].handle, scope, message, render)


async def reply_once(
    dedup: Deduplicator, on_message: OnMessage, scope: str, message: InboundMessage,
    render: Callable[[list[Reply]], list[dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Run the dialogue for `message`, once per `message.message_id` when it has one: a
    retry gets the first answer (409 while the first is still running)."""
    dedup_id = f"{message.sender}:{message.message_id}"
    if message.message_id:
        claim = await dedup.claim(scope, dedup_id)
        if not claim.new:
            replies = claim.replies or await dedup.wait(scope, dedup_id, 10)
            if replies is None:
                raise ApiError(409, "in_progress", "这条消息正在处理，请稍候", "message is still being processed")
            return replies
    try:
        replies = await on_message(message)
    except BaseException:
        if message.message_id:
            await dedup.release(scope, dedup_id)
        raise
    body = render(replies)
    if message.message_id and message.metadata.get("erased"):
        await dedup.release(scope, dedup_id)  # an erased identity keeps no marker either
    elif message.message_id:
        await dedup.finish(scope, dedup_id, body)
    return body


class RestChannel:
    name = "rest"
    path = "/webhooks/rest/webhook"

    def __init__(self, on_message: OnMessage, settings: Settings, *,
                 dedup: Callable[[], Deduplicator], limiter: Callable[[], RateLimiter]) -> None:
        self.on_message = on_message
        self.settings = settings
        self._dedup = dedup
        self._limiter = limiter

    def routes(self) -> list[web.RouteDef]:
        return [web.post(self.path, self.receive)]

    async def receive(self, request: web.Request) -> web.Response:
        settings = self.settings
        self._check_token(request, settings.rest_token)
        await self._limit(request, "rest-global", settings.rate_rest_global_per_minute, "all clients")
        await self._limit(request, f"rest-ip:{request.remote}", settings.rate_rest_ip_per_minute, "this address")
        message = self._parse(await self._json(request), settings.max_message_chars)
        await self._rate_limit(message.user_key, settings.rate_chat_per_minute)
        body = await reply_once(
            self._dedup(), self.on_message, self.name, message,
            lambda replies: [self._render(message.sender, r) for r in replies],
        )
        return _json_response(body)

    async def _limit(self, request: web.Request, key: str, per_minute: int, whose: str) -> None:
        decision = await self._limiter().hit(key, per_minute, 60)
        if not decision.allowed:
            raise ApiError(
                429, "rate_limited", "请求太频繁了，请稍后再试", f"more than {per_minute} requests per minute from {whose}",
                headers={"Retry-After": str(decision.retry_after)},
            )

    @staticmethod
    def _check_token(request: web.Request, token: str | None) -> None:
        if not token:
            # Without a token the channel trusts `sender`: only local programs may use it.
            if not is_loopback(request.remote):
                raise ApiError(
                    403, "local_only", "该接口仅限本机调用", "without LINLI_REST_TOKEN only loopback clients are served"
                )
            return
        given = request.query.get("token", "")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Bearer "):
            given = auth[len("Bearer "):]
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise ApiError(401, "bad_token", "渠道令牌无效", "missing or wrong channel token")

    async def _rate_limit(self, user_key: str, per_minute: int) -> None:
        decision = await self._limiter().hit(f"chat:{user_key}", per_minute, 60)
        if not decision.allowed:
            raise ApiError(
                429, "rate_limited", "消息发得太快了，请稍等一会儿再发", f"more than {per_minute} messages per minute",
                headers={"Retry-After": str(decision.retry_after)},
            )

    @staticmethod
    async def _json(request: web.Request) -> Any:
        return await read_json(request)  # 400 for unsafe JSON; enforces client_max_size (413)

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
