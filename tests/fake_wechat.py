"""A local fake of the WeChat API server (aiohttp), for the channel's late replies.

It issues access tokens at `GET /cgi-bin/token`, accepts `POST /cgi-bin/message/custom/send`
and records every request. Like the real server it answers with JSON error codes:
40013 (wrong AppID), 40125 (wrong secret), 40001 (access token invalid: see
`invalidate_token`), 45015 (the resident has not written within 48 hours: see `unreachable`).

`GET /cgi-bin/media/get?access_token=&media_id=` serves temporary media as WeChat documents
it: the bytes with their Content-Type (image/jpeg for photos; see `add_media`), or an error
code as JSON: 40007 (invalid media_id: unknown or expired) and 40001 (bad access token).
"""
from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.local_api import LocalApi


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    body: Any = None
    errcode: int = 0  # what the fake answered


@dataclass
class FakeWeChat(LocalApi):
    app_id: str
    app_secret: str
    requests: list[Recorded] = field(default_factory=list)
    unreachable: set[str] = field(default_factory=set)  # openids answered with 45015
    token_delay: float = 0.0  # seconds each token request takes
    media: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # media_id -> (bytes, content type)
    _tokens_issued: int = 0
    _valid: set[str] = field(default_factory=set)
    _server: TestServer | None = None
    _changed: asyncio.Condition | None = None

    async def start(self) -> "FakeWeChat":
        app = web.Application()
        app.router.add_get("/cgi-bin/token", self._token)
        app.router.add_post("/cgi-bin/message/custom/send", self._send)
        app.router.add_get("/cgi-bin/media/get", self._media)
        self._changed = asyncio.Condition()
        await self.serve(app)
        return self

    def invalidate_token(self) -> None:
        """Every token issued so far stops working (the next send gets 40001 once)."""
        self._valid.clear()

    def add_media(self, media_id: str, data: bytes, content_type: str = "image/jpeg") -> None:
        """A medium WeChat holds (a resident's photo); `del fake.media[id]` makes it expire."""
        self.media[media_id] = (data, content_type)

    @property
    def media_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/cgi-bin/media/get"]

    @property
    def token_requests(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/cgi-bin/token"]

    @property
    def sends(self) -> list[Recorded]:
        return [r for r in self.requests if r.path == "/cgi-bin/message/custom/send"]

    @property
    def delivered(self) -> list[Recorded]:
        """Sends that were accepted (valid token, reachable resident)."""
        return [r for r in self.sends if r.errcode == 0]

    async def wait_for_sends(self, count: int, timeout: float = 60.0) -> list[Recorded]:
        async def enough() -> None:
            async with self._changed:
                await self._changed.wait_for(lambda: len(self.sends) >= count)

        await asyncio.wait_for(enough(), timeout)
        return self.sends

    # -- handlers --------------------------------------------------------------

    async def _answer(self, request: web.Request, body: Any, data: dict[str, Any]) -> web.Response:
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), body, int(data.get("errcode", 0)))
        )
        async with self._changed:
            self._changed.notify_all()
        return web.json_response(data)

    async def _token(self, request: web.Request) -> web.Response:
        if self.token_delay:
            await asyncio.sleep(self.token_delay)
        query = request.query
        if query.get("grant_type") != "client_credential":
            return await self._answer(request, None, {"errcode": 40002, "errmsg": "invalid grant_type"})
        if query.get("appid") != self.app_id:
            return await self._answer(request, None, {"errcode": 40013, "errmsg": "invalid appid"})
        if query.get("secret") != self.app_secret:
            return await self._answer(request, None, {"errcode": 40125, "errmsg": "invalid appsecret"})
        self._tokens_issued += 1
        token = f"ACCESS_TOKEN_{self._tokens_issued}"
        self._valid.add(token)
        return await self._answer(request, None, {"access_token": token, "expires_in": 7200})

    async def _send(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.text())
        except ValueError:
            body = None
        if request.query.get("access_token", "") not in self._valid:
            return await self._answer(
                request, body, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            )
        if not isinstance(body, dict) or body.get("msgtype") != "text" or not body.get("text", {}).get("content"):
            return await self._answer(request, body, {"errcode": 44002, "errmsg": "empty post data"})
        if body.get("touser") in self.unreachable:
            return await self._answer(
                request, body, {"errcode": 45015, "errmsg": "response out of time limit or subscription is canceled"}
            )
        return await self._answer(request, body, {"errcode": 0, "errmsg": "ok"})

    async def _media(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("access_token", "") not in self._valid:
            return await self._answer(
                request, None, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"}
            )
        found = self.media.get(request.query.get("media_id", ""))
        if found is None:
            return await self._answer(request, None, {"errcode": 40007, "errmsg": "invalid media_id"})
        self.requests.append(Recorded(request.method, request.path, dict(request.query)))
        async with self._changed:
            self._changed.notify_all()
        data, content_type = found
        return web.Response(body=data, content_type=content_type, headers={
            "Content-disposition": f'attachment; filename="{request.query["media_id"]}.jpg"',
        })
