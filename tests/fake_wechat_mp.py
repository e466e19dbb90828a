"""A local fake of WeChat's mini-program login API (`GET /sns/jscode2session`).

Codes map to openids: `codes["abc"] = "openid-1"` (or call `issue("openid-1")`, which
returns a fresh code). A code works once, like the real one. Documented errors:
- 40029 invalid code (unknown code, or a code used before: the real server says
  40163 then; see `used_code_errcode`),
- 45011 rate limit (`rate_limited = True`),
- -1 system busy (`busy = True`),
- 40226 high-risk user (`risky` openids),
- 40013 invalid appid / 40125 invalid appsecret (wrong credentials).
Every request is recorded. Answers are JSON with content type text/plain, as WeChat does.
"""
from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.local_api import LocalApi

_ids = itertools.count(1)


@dataclass
class FakeWeChatMP(LocalApi):
    app_id: str = "wx-mp-test"
    app_secret: str = "mp-secret-test"
    codes: dict[str, str] = field(default_factory=dict)  # code -> openid
    unionids: dict[str, str] = field(default_factory=dict)  # openid -> unionid
    risky: set[str] = field(default_factory=set)  # openids answered with 40226
    busy: bool = False
    rate_limited: bool = False
    used_code_errcode: int = 40029
    requests: list[dict[str, str]] = field(default_factory=list)
    _used: set[str] = field(default_factory=set)
    _server: TestServer | None = None

    async def start(self) -> "FakeWeChatMP":
        app = web.Application()
        app.router.add_get("/sns/jscode2session", self._jscode2session)
        await self.serve(app)
        return self

    def issue(self, openid: str) -> str:
        """A new one-time code for `openid` (what wx.login() gives the mini-program)."""
        code = f"code-{next(_ids)}-{openid}"
        self.codes[code] = openid
        return code

    @staticmethod
    def _answer(data: dict[str, Any]) -> web.Response:
        return web.Response(text=json.dumps(data), content_type="text/plain")

    async def _jscode2session(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.requests.append(query)
        if query.get("grant_type") != "authorization_code":
            return self._answer({"errcode": 40002, "errmsg": "invalid grant_type"})
        if query.get("appid") != self.app_id:
            return self._answer({"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("secret") != self.app_secret:
            return self._answer({"errcode": 40125, "errmsg": "invalid appsecret"})
        if self.busy:
            return self._answer({"errcode": -1, "errmsg": "system error"})
        if self.rate_limited:
            return self._answer({"errcode": 45011, "errmsg": "api minute-quota reach limit mustslower retry next minute"})
        code = query.get("js_code", "")
        if code in self._used:
            return self._answer({"errcode": self.used_code_errcode, "errmsg": "code been used"})
        openid = self.codes.get(code)
        if openid is None:
            return self._answer({"errcode": 40029, "errmsg": "invalid code"})
        if openid in self.risky:
            return self._answer({"errcode": 40226, "errmsg": "invalid user, high risk"})
        self._used.add(code)
        data: dict[str, Any] = {"openid": openid, "session_key": f"sk-{openid}-secret"}
        if openid in self.unionids:
            data["unionid"] = self.unionids[openid]
        return self._answer(data)
