"""Serving the app with read timeouts against slow clients (slowloris).

aiohttp 3.9 bounds idle keep-alive connections but not a client that trickles a
request in: a few connections sending one header byte at a time would hold sockets for
ever. `GuardedRequestHandler` closes a connection whose request head has not arrived
within `head_timeout` seconds of its first byte (or of the connection), or whose body has
not arrived within `body_timeout` seconds of the head.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web
from aiohttp.streams import EMPTY_PAYLOAD
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_runner import GracefulExit

log = logging.getLogger(__name__)


class GuardedRequestHandler(RequestHandler):
    """RequestHandler with a deadline for the head and one for the body of each request."""

    def __init__(self, *args: Any, head_timeout: float, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = head_timeout
        self._body_timeout = body_timeout
        self._deadline: asyncio.TimerHandle | None = None
        self._body: Any = None  # the payload still arriving

    def _arm(self, seconds: float, what: str) -> None:
        self._disarm()
        if seconds > 0:
            self._deadline = self._loop.call_later(seconds, self._too_slow, what)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self, what: str) -> None:
        self._deadline = None
        peer = self.transport.get_extra_info("peername") if self.transport else None
        log.info("closing a connection from %s: request %s not received in time", peer[0] if peer else "?", what)
        if self.transport is not None:
            self.transport.close()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._arm(self._head_timeout, "head")

    def data_received(self, data: bytes) -> None:
        heads = self._request_count
        super().data_received(data)
        if self._request_count > heads:  # a head arrived
            payload = self._messages[-1][1] if self._messages else EMPTY_PAYLOAD
            if payload is not EMPTY_PAYLOAD and not payload.is_eof():
                self._body = payload
                self._arm(self._body_timeout, "body")
            else:
                self._body = None
                self._disarm()
        elif self._body is not None:
            if self._body.is_eof():
                self._body = None
                self._disarm()
        elif self._deadline is None and data:  # the start of the next request's head
            self._arm(self._head_timeout, "head")

    def connection_lost(self, exc: BaseException | None) -> None:
        self._disarm()
        self._body = None
        super().connection_lost(exc)


class GuardedServer(web.Server):
    head_timeout: float = 10.0
    body_timeout: float = 60.0

    def __call__(self) -> RequestHandler:
        return GuardedRequestHandler(
            self, loop=self._loop, head_timeout=self.head_timeout, body_timeout=self.body_timeout, **self._kwargs
        )


class GuardedAppRunner(web.AppRunner):
    """AppRunner whose connections have the read deadlines."""

    def __init__(self, app: web.Application, *, head_timeout: float, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._head_timeout, self._body_timeout = head_timeout, body_timeout

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        guarded = type("GuardedServerFor", (GuardedServer,), {
            "head_timeout": self._head_timeout, "body_timeout": self._body_timeout,
        })
        server.__class__ = guarded
        return server


async def serve(app: web.Application, *, host: str, port: int, reuse_port: bool = False, head_timeout: float,
                body_timeout: float, ready: asyncio.Event | None = None, handle_signals: bool = True) -> None:
    """Serve until cancelled (or SIGINT / SIGTERM), then shut down like `web.run_app`."""
    runner = GuardedAppRunner(app, access_log=None, handle_signals=handle_signals, head_timeout=head_timeout,
                              body_timeout=body_timeout)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port, reuse_port=reuse_port).start()
        logging.getLogger("bot").info("serving on http://%s:%d", host, port)
        if ready is not None:
            ready.set()
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def run(app: web.Application, **options: Any) -> None:
    try:
        asyncio.run(serve(app, **options))
    except (GracefulExit, KeyboardInterrupt):
        pass
