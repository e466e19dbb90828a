"""Slow and vanishing clients (issue 13, L1): a request head or body trickled in is cut
off after its deadline; a client leaving mid-body is not "storage unavailable".

The deadlines are small here so the test is quick; the waits are bounded generously and
end as soon as the server acts."""
from __future__ import annotations

import asyncio
import logging
import uuid

import pytest_asyncio

from bot.app import create_app
from bot.serve import serve
from nlu.service import NLUService
from storage.servers import free_port

BOUND = 60.0  # seconds a wait may take on a busy machine before the test gives up


@pytest_asyncio.fixture
async def server(settings, tmp_path, redis, db):
    port = free_port()
    app = create_app(settings.with_(mongodb_db=f"linli_slow_{uuid.uuid4().hex[:8]}"),
                     nlu=NLUService(tmp_path / "no-model.tar.gz"))
    ready = asyncio.Event()
    task = asyncio.create_task(serve(app, host="127.0.0.1", port=port, head_timeout=0.5, body_timeout=0.5,
                                     ready=ready, handle_signals=False))
    await asyncio.wait_for(ready.wait(), BOUND)
    yield port
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


class _LogLine(logging.Handler):
    """Sets `seen` when a log record containing `text` is written (the app logs in this loop)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text, self.seen = text, asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if self.text in record.getMessage():
            self.seen.set()


async def _closed_by_server(reader: asyncio.StreamReader) -> bytes:
    """Everything the server sends until it closes the connection."""
    return await asyncio.wait_for(reader.read(), BOUND)


async def test_a_trickled_request_head_is_cut_off(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
    await writer.drain()
    assert await _closed_by_server(reader) == b""  # closed without an answer
    writer.close()


async def test_an_idle_new_connection_is_cut_off(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    assert await _closed_by_server(reader) == b""
    writer.close()


async def test_a_trickled_body_is_cut_off(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"sender\": ")
    await writer.drain()
    await _closed_by_server(reader)
    writer.close()


async def test_normal_requests_still_work(server):
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    await writer.drain()
    answer = await _closed_by_server(reader)
    assert answer.startswith(b"HTTP/1.1 200") and b"Server: linli" in answer
    writer.close()


async def test_client_leaving_mid_body_is_not_storage_unavailable(server, caplog, redis):
    caplog.set_level(logging.INFO)
    reader, writer = await asyncio.open_connection("127.0.0.1", server)
    writer.write(b"POST /webhooks/rest/webhook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                 b"Content-Length: 1000\r\n\r\n{\"sender\": ")
    await writer.drain()

    async def handler_running() -> None:  # the channel counts the request before it reads the body
        while not await redis.keys("linli:rate:rest-global:*"):
            await asyncio.sleep(0.02)

    await asyncio.wait_for(handler_running(), BOUND)
    disconnected = _LogLine("client disconnected")
    logging.getLogger().addHandler(disconnected)
    try:
        writer.close()
        await asyncio.wait_for(disconnected.seen.wait(), BOUND)
    finally:
        logging.getLogger().removeHandler(disconnected)
    assert not any("storage unavailable" in r.getMessage() for r in caplog.records)
