"""Mini-program login and the API's token check.

POST /api/v1/auth/login {"code": <wx.login code>} exchanges the code at WeChat's
`sns/jscode2session` for the user's openid, finds or creates the resident behind
`mp:<openid>` and answers with our own opaque session token (stored hashed in Redis
with a fixed expiry, `api_session_ttl`). WeChat's session_key is dropped. Its request and
answer are `bot.api.models.auth.LoginRequest` / `LoginResponse`.

`api_middleware` guards every /api/v1 route: without a valid `Authorization: Bearer`
token it answers 401, unless the handler is marked `@public`. It sets
`request[RESIDENT]` and applies the per-resident (public: per-IP) rate limit.
"""
from __future__ import annotations

import logging
from typing import Any, Callable, TypeVar

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.models.auth import LoginRequest, LoginResponse
from bot.api.models.base import read_body
from bot.api.spec import BAD_GATEWAY, TOO_LARGE, UNAVAILABLE, operations
from bot.errors import ApiError
from bot.mp_api import (
    BUSY, CODE_USED, HIGH_RISK, INVALID_CODE, RATE_LIMITED, MiniProgramError,
)
from storage.residents import Resident
from storage.sessions import SessionStore

log = logging.getLogger(__name__)

RESIDENT = "linli.resident"  # request[RESIDENT]: the storage.residents.Resident of the token
TOKEN = "linli.api_token"  # request[TOKEN]: the bearer token itself
MP_USER_KEY = "mp:{openid}"

routes = web.RouteTableDef()
op = operations("auth")
H = TypeVar("H", bound=Callable[..., Any])


def public(handler: H) -> H:
    """Mark an API handler as reachable without a session token."""
    setattr(handler, "__linli_public__", True)
    return handler


def is_public(handler: Any) -> bool:
    return bool(getattr(handler, "__linli_public__", False))


def login_route(handler: H) -> H:
    """Mark a public handler as a login: it is limited by `rate_login_per_minute` per IP,
    in a bucket of its own (not the public routes' one)."""
    setattr(handler, "__linli_login__", True)
    return handler


async def private_responses(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare of the API sub-app: its answers (profiles, exports, tickets, ...)
    are never stored by browsers or proxies on the way, unless a handler chose otherwise."""
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("Pragma", "no-cache")


def current_resident(request: web.Request) -> Resident:
    """The resident whose token authorised this request (protected routes only)."""
    resident = request.get(RESIDENT)
    if resident is None:
        raise ApiError(401, "unauthorized", "请先登录", "no session for this request")
    return resident


def bearer_token(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _unauthorized(en: str) -> ApiError:
    return ApiError(401, "unauthorized", "请先登录", en, headers={"WWW-Authenticate": 'Bearer realm="linli"'})


async def rate_limit(request: web.Request, key: str, limit: int) -> None:
    """429 with Retry-After once `key` made more than `limit` requests this minute."""
    decision = await request.config_dict[keys.RATE_LIMITER].hit(key, limit, 60)
    if not decision.allowed:
        raise ApiError(
            429, "rate_limited", "操作太频繁了，请稍后再试", f"more than {limit} requests per minute",
            headers={"Retry-After": str(decision.retry_after)},
        )


@web.middleware
async def api_middleware(request: web.Request, handler: Callable) -> web.StreamResponse:
    """Middleware of the /api/v1 sub-app (every request it sees is an API request)."""
    match = request.match_info
    if match.http_exception is not None:  # no such route / method: 404 / 405 as usual
        return await handler(request)
    settings = request.config_dict[keys.SETTINGS]
    if getattr(match.handler, "__linli_login__", False):
        await rate_limit(request, f"login-ip:{request.remote}", settings.rate_login_per_minute)
        return await handler(request)
    if is_public(match.handler):
        await rate_limit(request, f"api-ip:{request.remote}", settings.rate_api_per_minute)
        return await handler(request)
    token = bearer_token(request)
    if not token:
        raise _unauthorized("missing Authorization: Bearer token")
    session = await request.config_dict[keys.API_SESSIONS].get(token)
    if not session or not isinstance(session.get("resident_id"), str):
        raise _unauthorized("invalid or expired session token")
    resident = await request.config_dict[keys.RESIDENTS].get(session["resident_id"])
    if resident is None or resident.deleted_at is not None:
        await request.config_dict[keys.API_SESSIONS].delete(token)
        raise _unauthorized("the account of this token no longer exists")
    await rate_limit(request, f"api:{resident.id}", settings.rate_api_per_minute)
    request[RESIDENT] = resident
    request[TOKEN] = token
    return await handler(request)


def _login_error(exc: MiniProgramError) -> ApiError:
    if exc.errcode in (INVALID_CODE, CODE_USED):
        return ApiError(401, "invalid_code", "登录凭证无效或已过期，请重新进入小程序", f"WeChat: {exc.errcode} {exc.errmsg}")
    if exc.errcode == RATE_LIMITED:
        return ApiError(
            429, "wechat_rate_limited", "登录太频繁了，请一分钟后再试", "WeChat: 45011 rate limit",
            headers={"Retry-After": "60"},
        )
    if exc.errcode == HIGH_RISK:
        return ApiError(403, "risky_user", "微信判定该账号存在风险，暂时无法登录", "WeChat: 40226 high-risk user")
    if exc.errcode == BUSY:
        return ApiError(
            503, "wechat_busy", "微信系统繁忙，请稍后再试", "WeChat: -1 system busy", headers={"Retry-After": "3"}
        )
    log.warning("jscode2session failed: %s", exc)
    return ApiError(502, "wechat_error", "微信登录暂时不可用，请稍后再试", f"WeChat: {exc.errcode}")


@routes.post(f"{PREFIX}/auth/login")
@op("login", "小程序登录：用 wx.login 的 code 换取会话令牌", body=LoginRequest, answers={
    200: (LoginResponse, "登录成功"), 401: "code 无效或已使用（微信 40029 / 40163）", 403: "微信判定为风险用户（40226）",
    413: TOO_LARGE, 502: BAD_GATEWAY, 503: UNAVAILABLE})
@public
@login_route
async def login(request: web.Request) -> web.Response:
    code = (await read_body(request, LoginRequest)).code
    client = request.config_dict.get(keys.MP_CLIENT)
    if client is None:
        raise ApiError(503, "login_unavailable", "小程序登录暂未开通", "MP_APP_ID / MP_APP_SECRET not configured")
    try:
        identity = await client.code2session(code)
    except MiniProgramError as exc:
        raise _login_error(exc) from None
    user_key = MP_USER_KEY.format(openid=identity.openid)
    resident = await request.config_dict[keys.RESIDENTS].me(user_key)
    sessions: SessionStore = request.config_dict[keys.API_SESSIONS]
    token = await sessions.create({"resident_id": resident.id, "user_key": user_key}, owner=resident.id)
    return json_response(LoginResponse(token=token, token_type="Bearer", expires_in=sessions.ttl_seconds))


@routes.post(f"{PREFIX}/auth/logout")
@op("logout", "退出登录（令牌立即失效）", answers={204: {"description": "已退出"}})
async def logout(request: web.Request) -> web.Response:
    await request.config_dict[keys.API_SESSIONS].delete(request[TOKEN])
    return web.Response(status=204)

