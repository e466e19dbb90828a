"""JSON errors with a Chinese message for people and an English one for developers."""
from __future__ import annotations

import json
import logging

from aiohttp import web
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from bot.chat import NLUNotReady
from domain.errors import DomainError

log = logging.getLogger(__name__)

_BY_STATUS = {
    400: ("bad_request", "请求格式不正确", "bad request"),
    401: ("unauthorized", "身份验证失败", "unauthorized"),
    403: ("forbidden", "没有权限", "forbidden"),
    404: ("not_found", "找不到这个地址", "not found"),
    405: ("method_not_allowed", "不支持这种请求方式", "method not allowed"),
    413: ("body_too_large", "内容太长了，请分几次发送", "request body too large"),
    415: ("unsupported_media_type", "请求内容类型不支持", "unsupported media type"),
    429: ("rate_limited", "操作太频繁了，请稍后再试", "too many requests"),
}


def error_body(code: str, zh: str, en: str) -> dict:
    return {"error": {"code": code, "message": zh, "detail": en}}


class ApiError(web.HTTPException):
    """An HTTP error whose body says what was wrong, in both languages."""

    def __init__(self, status: int, code: str, zh: str, en: str, headers: dict | None = None) -> None:
        self.status_code = status
        super().__init__(
            headers=headers,
            text=json.dumps(error_body(code, zh, en), ensure_ascii=False),
            content_type="application/json",
        )


def domain_headers(exc: DomainError) -> dict[str, str] | None:
    """HTTP headers a refusal carries (Retry-After from `data["retry_after"]`)."""
    retry = exc.data.get("retry_after")
    return {"Retry-After": str(retry)} if retry is not None else None


def domain_response(exc: DomainError) -> web.Response:
    """The one mapping of a service's refusal to HTTP: its status, its code, zh and en."""
    return web.json_response(
        error_body(exc.code, exc.zh, exc.en), status=exc.status, headers=domain_headers(exc),
        dumps=lambda data: json.dumps(data, ensure_ascii=False),
    )


def _as_json(exc: web.HTTPException) -> web.Response:
    code, zh, en = _BY_STATUS.get(exc.status, ("http_error", "请求无法处理", exc.reason or "error"))
    return web.json_response(
        error_body(code, zh, en), status=exc.status, headers={k: v for k, v in exc.headers.items() if k.lower() in ("allow", "retry-after")}
    )


def _storage_unavailable(request: web.Request, exc: BaseException) -> web.Response:
    log.warning("storage unavailable for %s %s: %r", request.method, request.path, exc)
    return web.json_response(
        error_body("storage_unavailable", "系统繁忙，请稍后再试", "storage temporarily unavailable"),
        status=503,
        headers={"Retry-After": "5"},
    )


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError:
        raise
    except DomainError as exc:
        return domain_response(exc)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return _as_json(exc)
    except NLUNotReady:
        return web.json_response(
            error_body("starting", "系统正在启动，请稍后再试", "NLU model is loading"),
            status=503,
            headers={"Retry-After": "5"},
        )
    except ConnectionResetError as exc:
        if request.transport is None or request.transport.is_closing():  # the client went away mid-request
            log.info("client disconnected during %s %s", request.method, request.path)
            return web.Response(status=400, text="client disconnected")
        return _storage_unavailable(request, exc)
    except (PyMongoError, RedisError, ConnectionError) as exc:
        return _storage_unavailable(request, exc)
    except Exception:
        log.exception("unhandled error for %s %s", request.method, request.path)
        return web.json_response(error_body("internal_error", "系统出错了，请稍后再试", "internal error"), status=500)
