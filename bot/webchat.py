"""The web chat at /chat: a phone-sized page for residents without WeChat and for trying Linli.

The page talks to POST /chat/send, which calls the same ChatService every channel uses.
The resident's identity is a signed cookie the server issues (`linli_chat`: an id and its
HMAC); the page never chooses a sender. Each send carries a token derived from that id
(a header a cross-site form cannot set), and is rate-limited per identity like the REST
channel and per client address, so dropping the cookie does not lift the limit.

Like the other channels it is given what it uses (`setup_webchat`): its message handler
(`on_message`, the chat pipeline), the settings, the rate limiter and Redis (getters: they
exist once the app has started, bot/bootstrap.py).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable

import aiohttp_jinja2
from aiohttp import web

from redis.asyncio import Redis

from bot.config import Settings
from bot.errors import ApiError
from handlers.messages import InboundMessage, Reply
from handlers.text import normalize
from storage.rate_limit import RateLimiter

COOKIE = "linli_chat"
TOKEN_HEADER = "X-Chat-Token"
CHANNEL = "web"
COOKIE_MAX_AGE = 180 * 24 * 3600
SECRET_KEY = "webchat:secret"
IP_FACTOR = 4  # one address may send this many times the per-identity limit

routes = web.RouteTableDef()


@dataclass
class _Wiring:
    on_message: Callable[[InboundMessage], Awaitable[list[Reply]]]
    settings: Settings
    limiter: Callable[[], RateLimiter]
    redis: Callable[[], Redis]
    secret: dict[str, bytes] = field(default_factory=dict)


_WIRING: web.AppKey[_Wiring] = web.AppKey("webchat", _Wiring)


def setup_webchat(
    app: web.Application,
    *,
    on_message: Callable[[InboundMessage], Awaitable[list[Reply]]],
    settings: Settings,
    limiter: Callable[[], RateLimiter],
    redis: Callable[[], Redis],
) -> None:
    """Routes of /chat; the signing key is read on first use (the app starts without Redis)."""
    app.add_routes(routes)
    app[_WIRING] = _Wiring(on_message, settings, limiter, redis)


async def _secret(app: web.Application) -> bytes:
    """One signing key for every worker process, kept in Redis (created once). Without
    Redis this raises, which the error middleware answers as a 503."""
    holder = app[_WIRING].secret
    if "key" not in holder:
        redis = app[_WIRING].redis()
        await redis.set(SECRET_KEY, secrets.token_hex(32), nx=True)
        value = await redis.get(SECRET_KEY)
        holder["key"] = (value if isinstance(value, str) else value.decode()).encode()
    return holder["key"]


def _sign(secret: bytes, purpose: str, value: str) -> str:
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()[:32]


def _identity(secret: bytes, cookie: str | None) -> str | None:
    """The chat id a valid cookie carries, else None."""
    if not cookie or cookie.count(".") != 1:
        return None
    ident, sig = cookie.split(".")
    if not (ident.startswith("w") and 8 <= len(ident) <= 40 and ident[1:].isalnum()):
        return None
    return ident if hmac.compare_digest(sig, _sign(secret, "id", ident)) else None


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))


@routes.get("/chat")
async def page(request: web.Request) -> web.Response:
    secret = await _secret(request.app)
    ident = _identity(secret, request.cookies.get(COOKIE))
    fresh = ident is None
    if fresh:
        ident = "w" + secrets.token_hex(12)
    response = aiohttp_jinja2.render_template(
        "chat.html", request, {"chat_token": _sign(secret, "send", ident)}
    )
    if fresh:
        response.set_cookie(
            COOKIE, f"{ident}.{_sign(secret, 'id', ident)}", max_age=COOKIE_MAX_AGE, httponly=True,
            samesite="Strict", path="/chat", secure=request.app[_WIRING].settings.console_cookie_secure,
        )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    )
    return response


async def _rate_limit(request: web.Request, user_key: str) -> None:
    per_minute = request.app[_WIRING].settings.rate_chat_per_minute
    limiter = request.app[_WIRING].limiter()
    for key, limit in ((f"chat:{user_key}", per_minute), (f"chatip:{request.remote}", per_minute * IP_FACTOR)):
        decision = await limiter.hit(key, limit, 60)
        if not decision.allowed:
            raise ApiError(
                429, "rate_limited", "消息发得太快了，请稍等一会儿再发", f"more than {limit} messages per minute",
                headers={"Retry-After": str(decision.retry_after)},
            )


def _render(reply: Reply) -> dict[str, Any]:
    return reply.as_dict()


@routes.post("/chat/send")
async def send(request: web.Request) -> web.Response:
    secret = await _secret(request.app)
    ident = _identity(secret, request.cookies.get(COOKIE))
    if ident is None:
        raise ApiError(401, "no_identity", "会话已失效，请刷新页面", "missing or invalid chat cookie")
    if not hmac.compare_digest(request.headers.get(TOKEN_HEADER, ""), _sign(secret, "send", ident)):
        raise ApiError(403, "bad_token", "请求无效，请刷新页面", "missing or wrong chat token")
    try:
        body = json.loads((await request.read()).decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise ApiError(400, "invalid_json", "请求不是有效的 JSON", "body is not valid UTF-8 JSON") from None
    text = body.get("message") if isinstance(body, dict) else None
    if not isinstance(text, str) or not normalize(text):
        raise ApiError(400, "empty_message", "消息是空的，请输入内容", "message must be a non-empty string")
    max_chars = request.app[_WIRING].settings.max_message_chars
    if len(text) > max_chars:
        raise ApiError(413, "message_too_long", f"消息太长了，请控制在{max_chars}字以内", "message too long")
    message = InboundMessage(channel=CHANNEL, sender=ident, text=text)
    await _rate_limit(request, message.user_key)
    replies = await request.app[_WIRING].on_message(message)
    response = _json([_render(r) for r in replies])
    response.headers["Cache-Control"] = "no-store"
    return response
