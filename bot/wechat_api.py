"""Async client for the WeChat Official Account API (the parts the chat channel needs).

- `cgi-bin/token`: the access token, cached in Redis (shared by all worker processes)
  until shortly before it expires. Only one process refreshes it at a time (Redis lock);
  the others wait for the lock and then use the token it stored.
- `cgi-bin/message/custom/send`: customer-service text messages, used when a reply is not
  ready within WeChat's 5-second window. An invalid/expired token (40001, 42001, 40014)
  forces one refresh and one resend; 45015 (the resident has not written in 48 hours) and
  similar "cannot reach this user" codes are logged and reported as undeliverable.
- `cgi-bin/media/get`: a temporary medium (a resident's photo) by its MediaId, kept for
  3 days by WeChat: the bytes and their Content-Type, or a JSON error code (40007 for
  an unknown or expired media_id). An invalid token is refreshed once, as for sends.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
from redis.asyncio import Redis

log = logging.getLogger(__name__)

TOKEN_KEY = "linli:wechat:token:{app_id}"
TOKEN_LOCK = "linli:lock:wechat:token:{app_id}"
# Refresh this long before WeChat says the token expires (it is valid for 7200 s).
TOKEN_MARGIN_SECONDS = 300
INVALID_TOKEN = {40001, 40014, 42001}
# The resident cannot be messaged now: no interaction in 48 h, unsubscribed, ...
UNDELIVERABLE = {45015, 45047, 43004}


class WeChatApiError(RuntimeError):
    """WeChat answered with an error code (or not with JSON at all)."""

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class SendResult:
    delivered: bool
    errcode: int = 0
    errmsg: str = "ok"


class WeChatClient:
    def __init__(
        self,
        redis: Redis,
        app_id: str,
        app_secret: str,
        base_url: str = "https://api.weixin.qq.com",
        *,
        timeout: float = 10.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self._redis = redis
        self.app_id = app_id
        self._app_secret = app_secret
        self.base_url = base_url.rstrip("/")
        self._session = session or aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
        self._own_session = session is None

    @property
    def token_key(self) -> str:
        return TOKEN_KEY.format(app_id=self.app_id)

    async def close(self) -> None:
        if self._own_session:
            await self._session.close()

    async def access_token(self, *, stale: str | None = None) -> str:
        """The cached access token; a new one when none is cached or the cached one is
        `stale` (WeChat refused it). Refreshed by one process at a time."""
        cached = await self._redis.get(self.token_key)
        if cached and cached != stale:
            return cached
        lock = self._redis.lock(TOKEN_LOCK.format(app_id=self.app_id), timeout=30, blocking_timeout=30)
        async with lock:
            cached = await self._redis.get(self.token_key)  # another process may have refreshed it
            if cached and cached != stale:
                return cached
            data = await self._call("GET", "cgi-bin/token", params={
                "grant_type": "client_credential", "appid": self.app_id, "secret": self._app_secret,
            })
            token = data.get("access_token")
            if not isinstance(token, str) or not token:
                raise WeChatApiError(-1, "no access_token in the token response")
            expires_in = int(data.get("expires_in") or 7200)
            await self._redis.set(self.token_key, token, ex=max(60, expires_in - TOKEN_MARGIN_SECONDS))
            log.info("WeChat access token refreshed (valid %d s)", expires_in)
            return token

    async def send_text(self, openid: str, text: str) -> SendResult:
        """Send a customer-service text message to one resident."""
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        token = await self.access_token()
        for attempt in (1, 2):
            data = await self._call("POST", "cgi-bin/message/custom/send", params={"access_token": token}, json_body=body)
            errcode = _errcode(data)
            if errcode == 0:
                return SendResult(True)
            errmsg = str(data.get("errmsg", ""))
            if errcode in INVALID_TOKEN and attempt == 1:
                log.info("WeChat refused the access token (%d); refreshing once", errcode)
                token = await self.access_token(stale=token)
                continue
            if errcode in UNDELIVERABLE:
                log.warning("WeChat message to %s undeliverable: %d %s", openid, errcode, errmsg)
                return SendResult(False, errcode, errmsg)
            raise WeChatApiError(errcode, errmsg)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get_media(self, media_id: str, *, max_bytes: int = 10 * 1024 * 1024) -> tuple[bytes, str]:
        """(bytes, content type) of a temporary medium; WeChatApiError when WeChat answers
        with an error code (JSON) or the medium is larger than `max_bytes`."""
        token = await self.access_token()
        for attempt in (1, 2):
            url = f"{self.base_url}/cgi-bin/media/get"
            async with self._session.get(url, params={"access_token": token, "media_id": media_id}) as resp:
                content_type = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
                raw = await resp.content.read(max_bytes + 1)
            if len(raw) > max_bytes:
                raise WeChatApiError(-2, f"medium larger than {max_bytes} bytes")
            if content_type in ("application/json", "text/plain") or raw[:1] == b"{":
                try:
                    data = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    data = None
                if isinstance(data, dict):
                    errcode = _errcode(data)
                    if errcode in INVALID_TOKEN and attempt == 1:
                        token = await self.access_token(stale=token)
                        continue
                    raise WeChatApiError(errcode or -1, str(data.get("errmsg", "")))
            if resp.status != 200 or not raw:
                raise WeChatApiError(-1, f"media/get: HTTP {resp.status}")
            return raw, content_type
        raise AssertionError("unreachable")  # pragma: no cover

    async def _call(
        self, method: str, path: str, *, params: dict[str, str], json_body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        url = f"{self.base_url}/{path}"
        data = None
        headers = {}
        if json_body is not None:
            data = json.dumps(json_body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        async with self._session.request(method, url, params=params, data=data, headers=headers) as resp:
            raw = await resp.read()
        try:
            result = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise WeChatApiError(-1, f"{method} {path}: HTTP {resp.status}, not JSON") from None
        if not isinstance(result, dict):
            raise WeChatApiError(-1, f"{method} {path}: unexpected JSON")
        if path == "cgi-bin/token" and _errcode(result):
            raise WeChatApiError(_errcode(result), str(result.get("errmsg", "")))
        return result


def _errcode(data: dict[str, Any]) -> int:
    try:
        return int(data.get("errcode") or 0)
    except (TypeError, ValueError):
        return -1
