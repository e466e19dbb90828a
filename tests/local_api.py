"""What every local fake of a remote HTTP API shares: it serves on 127.0.0.1, closes, and
names its base URL (the app under test is configured with it)."""
from __future__ import annotations

from aiohttp import web
from aiohttp.test_utils import TestServer


class LocalApi:
    """Mixed into a fake (a dataclass holding `_server: TestServer | None = None`)."""

    _server: TestServer | None

    async def serve(self, app: web.Application) -> None:
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()

    async def close(self) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return str(self._server.make_url("")).rstrip("/")
