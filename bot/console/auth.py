"""Console sessions, CSRF protection, staff login/logout and `staff_required`.

- Session: an opaque token in the httponly, SameSite=Strict cookie `linli_console`
  (Secure when `console_cookie_secure`); the session (staff id + CSRF token) lives in
  Redis with an idle timeout (`console_session_ttl`).
- CSRF: every non-GET console request must carry the form field `_csrf` (or the header
  `X-CSRF-Token`) equal to the session's token; before login, a double-submit cookie
  `linli_csrf` plays that part. Templates get it as `csrf_token`. Otherwise 403.
- Login: argon2 check; 5 failures within 15 minutes lock that username *from that
  client* (storage.login_lock: back-off on repeated locks, a client spraying usernames is
  locked as a whole, staff lift locks on the staff page), 429 with a Chinese message;
  login posts have their own per-IP rate limit (`rate_login_per_minute`).
"""
from __future__ import annotations

import functools
import hmac
import logging
import secrets
from typing import Any, Awaitable, Callable
from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import web
from pymongo.errors import PyMongoError
from redis.exceptions import RedisError

from bot import keys
from bot.errors import domain_headers
from bot.privacy import Public, can_see_contact
from domain.errors import DomainError
from services.staff_accounts import LoginRefused
from storage.staff import ROLE_NAMES, Staff

log = logging.getLogger(__name__)

PREFIX = "/console"
STAFF = "linli.staff"  # request[STAFF]: the logged-in storage.staff.Staff
SESSION = "linli.console_session"  # request[SESSION]: the session dict (or None)
SESSION_TOKEN = "linli.console_token"
CSRF = "linli.csrf"  # request[CSRF]: the CSRF token forms of this page must echo
COOKIE = "linli_console"
CSRF_COOKIE = "linli_csrf"
CSRF_FIELD = "_csrf"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSP = "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"
NAV_KEY = web.AppKey("console_nav", list)

routes = web.RouteTableDef()
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def is_console(request: web.Request) -> bool:
    return request.path == PREFIX or request.path.startswith(PREFIX + "/")


def staff_required(*roles: Any) -> Any:
    """Decorator: the handler needs a logged-in staff member (redirect to the login page
    otherwise) with one of `roles` (any role when none given; 403 otherwise). Sets
    request[STAFF]. Use as `@staff_required()` or `@staff_required("community_admin", ...)`."""
    if len(roles) == 1 and callable(roles[0]):  # used bare: @staff_required
        return staff_required()(roles[0])

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            staff: Staff | None = request.get(STAFF)
            if staff is None:
                raise web.HTTPFound(f"{PREFIX}/login?next={quote(request.path_qs, safe='')}")
            if roles and staff.role not in roles:
                raise web.HTTPForbidden()
            return await handler(request)

        wrapper.__linli_roles__ = roles  # type: ignore[attr-defined]
        return wrapper

    return decorate


def current_staff(request: web.Request) -> Staff:
    staff = request.get(STAFF)
    if staff is None:
        raise web.HTTPFound(f"{PREFIX}/login")
    return staff


def _cookie_options(request: web.Request) -> dict[str, Any]:
    return {
        "path": PREFIX,
        "httponly": True,
        "samesite": "Strict",
        "secure": request.config_dict[keys.SETTINGS].console_cookie_secure,
    }


async def _load_session(request: web.Request) -> None:
    request[SESSION] = request[SESSION_TOKEN] = None
    token = request.cookies.get(COOKIE)
    found = await request.config_dict[keys.ACCOUNTS].session(token) if token else None
    if found is not None:
        request[SESSION], request[STAFF] = found
        request[SESSION_TOKEN] = token


async def _check_csrf(request: web.Request) -> None:
    given = request.headers.get(CSRF_HEADER, "")
    if not given and request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        given = str((await request.post()).get(CSRF_FIELD, ""))
    expected = request[CSRF]
    if not given or not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise web.HTTPForbidden(reason="CSRF token missing or wrong")


ERROR_MESSAGES = {
    400: "请求内容不正确",
    403: "没有权限访问这个页面",
    404: "找不到这个页面，或这条记录不在您的管辖范围内",
    405: "不支持这种请求方式",
    413: "提交的内容太大",
    429: "操作太频繁了，请稍后再试",
    500: "系统出错了，请稍后再试；问题已记录",
    503: "系统繁忙，请稍后再试",
}
CSRF_MESSAGE = "页面已过期或来源不明（CSRF 校验失败），请刷新页面后重试"


def render_error(request: web.Request, status: int, message: str | None = None,
                 headers: dict[str, str] | None = None) -> web.Response:
    context = dict(console_context_sync(request))
    context.update(status=status, message=message or ERROR_MESSAGES.get(status, "请求无法处理"))
    response = aiohttp_jinja2.render_template("error.html", request, context, status=status)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


@web.middleware
async def console_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Middleware of the /console sub-app: session, CSRF, security headers, HTML error pages."""
    await _load_session(request)
    session = request[SESSION]
    anonymous_csrf = None
    if session is None:
        anonymous_csrf = request.cookies.get(CSRF_COOKIE) or ""
        if not (20 <= len(anonymous_csrf) <= 64):
            anonymous_csrf = secrets.token_urlsafe(32)
    request[CSRF] = session["csrf"] if session else anonymous_csrf
    try:
        if request.method not in SAFE_METHODS:
            try:
                await _check_csrf(request)
            except web.HTTPForbidden:
                log.warning("console CSRF rejection: %s %s from %s", request.method, request.path, request.remote)
                response: web.StreamResponse = render_error(request, 403, CSRF_MESSAGE)
            else:
                response = await handler(request)
        else:
            response = await handler(request)
    except DomainError as exc:  # a refusal no page handled itself: the error page says why
        response = render_error(request, exc.status, exc.zh or None, domain_headers(exc))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        retry = exc.headers.get("Retry-After")
        response = render_error(request, exc.status, None, {"Retry-After": retry} if retry else None)
    except (PyMongoError, RedisError, ConnectionError) as exc:
        log.warning("console storage unavailable for %s %s: %r", request.method, request.path, exc)
        response = render_error(request, 503, None, {"Retry-After": "5"})
    except Exception:
        log.exception("unhandled console error for %s %s", request.method, request.path)
        response = render_error(request, 500)
    if anonymous_csrf and request.cookies.get(CSRF_COOKIE) != anonymous_csrf and request.get(SESSION) is None:
        response.set_cookie(CSRF_COOKIE, anonymous_csrf, **_cookie_options(request))
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers.setdefault("Content-Security-Policy", CSP)
    return response


def console_context_sync(request: web.Request) -> dict[str, Any]:
    staff: Staff | None = request.get(STAFF)
    nav = [item for item in request.config_dict.get(NAV_KEY, []) if staff and (not item["roles"] or staff.role in item["roles"])]
    return {
        "csrf_token": Public(request.get(CSRF) or ""),
        "staff": staff,
        "nav": nav,
        "can_see_contact": can_see_contact(staff),
        "role_names": ROLE_NAMES,
        "path": request.path,
    }


async def console_context(request: web.Request) -> dict[str, Any]:
    """aiohttp_jinja2 context processor: what every console template can use
    (`community_names`, `street_names`: code -> name)."""
    if not is_console(request):
        return {}
    context = console_context_sync(request)
    if context["staff"] is not None:
        places = request.config_dict[keys.COMMUNITIES]
        context["community_names"], context["street_names"] = await places.names(), await places.street_names()
    return context


def _safe_next(target: str | None) -> str:
    """Only redirect within the console (no open redirects)."""
    if target and target.startswith(PREFIX) and not target.startswith("//") and "\\" not in target:
        return target
    return f"{PREFIX}/"


@routes.get(f"{PREFIX}/login")
async def login_page(request: web.Request) -> web.StreamResponse:
    if request.get(STAFF):
        raise web.HTTPFound(_safe_next(request.query.get("next")))
    return aiohttp_jinja2.render_template(
        "login.html", request, {"next": _safe_next(request.query.get("next")), "error": None, "username": ""}
    )


@routes.post(f"{PREFIX}/login")
async def login(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    username = str(form.get("username", "")).strip()[:64]
    password = str(form.get("password", ""))[:256]
    target = _safe_next(str(form.get("next", "")))
    client = request.remote or "unknown"

    def page(error: str, status: int, headers: dict[str, str] | None = None) -> web.Response:
        response = aiohttp_jinja2.render_template(
            "login.html", request, {"next": target, "error": error, "username": username}, status=status
        )
        response.headers.update(headers or {})
        return response

    decision = await request.config_dict[keys.RATE_LIMITER].hit(
        f"console-login-ip:{client}", request.config_dict[keys.SETTINGS].rate_login_per_minute, 60
    )
    if not decision.allowed:
        return page("登录尝试太频繁了，请稍后再试", 429, {"Retry-After": str(decision.retry_after)})
    try:
        _, token = await request.config_dict[keys.ACCOUNTS].log_in(
            username, password, client=client, ip=request.remote, previous_token=request.get(SESSION_TOKEN))
    except LoginRefused as exc:
        return page(exc.zh, exc.status, domain_headers(exc))
    response = web.HTTPFound(target)
    response.set_cookie(COOKIE, token, max_age=request.config_dict[keys.SETTINGS].console_session_ttl, **_cookie_options(request))
    response.del_cookie(CSRF_COOKIE, path=PREFIX)
    raise response


@routes.post(f"{PREFIX}/logout")
async def logout(request: web.Request) -> web.StreamResponse:
    staff = request.get(STAFF)
    if staff is not None:
        await request.config_dict[keys.ACCOUNTS].log_out(staff, request[SESSION_TOKEN], ip=request.remote)
    response = web.HTTPFound(f"{PREFIX}/login")
    response.del_cookie(COOKIE, path=PREFIX)
    raise response
