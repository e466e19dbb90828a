"""Client for the WeChat mini-program login API (`sns/jscode2session`).

The mini-program calls `wx.login()` and sends us the one-time code; we exchange it for
the user's openid (and unionid when bound). The `session_key` WeChat also returns is
never stored or sent anywhere: our own session token replaces it.
Documented errors: 40029 invalid code, 45011 rate limit (100 per minute per user),
40226 high-risk user, -1 system busy.
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass

import aiohttp

INVALID_CODE = 40029
CODE_USED = 40163
RATE_LIMITED = 45011
HIGH_RISK = 40226
BUSY = -1
UNREACHABLE = -2  # our own code: no (JSON) answer from WeChat


class MiniProgramError(RuntimeError):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"jscode2session error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


@dataclass(frozen=True)
class MpIdentity:
    openid: str
    unionid: str | None = None


class MiniProgramClient:
    def __init__(
        self, app_id: str, app_secret: str, base_url: str = "https://api.weixin.qq.com", *, timeout: float = 5.0
    ) -> None:
        self.app_id = app_id
        self._app_secret = app_secret
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def code2session(self, code: str) -> MpIdentity:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        params = {"appid": self.app_id, "secret": self._app_secret, "js_code": code,
                  "grant_type": "authorization_code"}
        try:
            async with self._session.get(f"{self.base_url}/sns/jscode2session", params=params) as resp:
                raw = await resp.read()
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise MiniProgramError(UNREACHABLE, f"WeChat unreachable: {exc!r}") from None
        try:
            data = json.loads(raw.decode("utf-8"))  # WeChat answers JSON as text/plain
        except (UnicodeDecodeError, ValueError):
            raise MiniProgramError(UNREACHABLE, f"HTTP {resp.status}, not JSON") from None
        if not isinstance(data, dict):
            raise MiniProgramError(UNREACHABLE, "unexpected JSON")
        try:
            errcode = int(data.get("errcode") or 0)
        except (TypeError, ValueError):
            errcode = BUSY
        if errcode:
            raise MiniProgramError(errcode, str(data.get("errmsg", "")))
        openid = data.get("openid")
        if not isinstance(openid, str) or not openid or len(openid) > 128:
            raise MiniProgramError(UNREACHABLE, "no openid in the answer")
        unionid = data.get("unionid")
        return MpIdentity(openid, unionid if isinstance(unionid, str) and unionid else None)
