"""Two worker processes of the app (`python -m bot`) sharing Redis act once per WeChat
message and refresh the access token once (see tests/wechat_helpers.py)."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

from bot.config import ROOT
from storage.servers import free_port
from tests.fake_wechat import FakeWeChat
from tests.wechat_helpers import (  # noqa: F401  (fixtures)
    APP_ID, APP_SECRET, TOKEN, WeChatServer, fake_api, message_xml, msg_id_of,
)


def _start_worker(tmp_path: Path, settings, fake_api: FakeWeChat, budget: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    env = {
        **os.environ,
        "MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db, "REDIS_URL": settings.redis_url,
        "LINLI_PORT": str(port), "LINLI_MODELS_DIR": str(tmp_path / "no-model"),  # menu keys need no model
        "WECHAT_TOKEN": TOKEN, "WECHAT_APP_ID": APP_ID, "WECHAT_APP_SECRET": APP_SECRET,
        "WECHAT_API_BASE": fake_api.url, "LINLI_WECHAT_REPLY_BUDGET": budget, "LINLI_LOG_LEVEL": "WARNING",
    }
    log = open(tmp_path / f"worker-{port}.log", "wb")
    proc = subprocess.Popen([sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, port


# Generous bounds for waiting on a worker process: on a busy 2-core machine starting
# Python with aiohttp, motor and wechatpy, or a request round trip, can take many seconds.
# The waits end as soon as the awaited thing happens; the bounds only stop a broken run.
WORKER_START_BOUND = 180.0
WORKER_EVENT_BOUND = 120.0


async def _wait_healthy(port: int, proc: subprocess.Popen, timeout: float = WORKER_START_BOUND) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "worker exited"
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"worker on {port} did not start")


async def _stop_workers(workers: list[tuple[subprocess.Popen, int]]) -> None:
    """SIGINT (graceful: drains late replies), wait for the exit without blocking the loop."""
    for proc, _ in workers:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc, _ in workers:
        try:
            await asyncio.to_thread(proc.wait, WORKER_EVENT_BOUND)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)


class _Base:
    """Just enough of aiohttp's TestClient for WeChatServer, against a real URL."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def post(self, path: str, **kwargs):
        resp = await self.session.post(self.base + path, **kwargs)
        await resp.read()
        return resp


async def test_two_worker_processes_act_once_per_message(tmp_path, settings, fake_api, db, redis):
    """Budget 0: every reply goes out through the API, so acting twice would send twice."""
    workers: list[tuple[subprocess.Popen, int]] = []
    try:
        # One after the other: two workers creating the indexes of a fresh database at
        # the same moment can trip over each other on secantusdb.
        for _ in range(2):
            workers.append(_start_worker(tmp_path, settings, fake_api, budget="0"))
            await _wait_healthy(workers[-1][1], workers[-1][0])
        fake_api.token_delay = 0.2
        async with aiohttp.ClientSession() as session:
            servers = [WeChatServer(_Base(session, f"http://127.0.0.1:{port}")) for _, port in workers]
            first, second = message_xml("text", Content="3"), message_xml("text", Content="0")
            answers = await asyncio.gather(*(s.post(xml) for xml in (first, second) for s in servers for _ in range(3)))
        assert all(a.status == 200 and a.body == "success" for a in answers)
        await fake_api.wait_for_sends(2, timeout=WORKER_EVENT_BOUND)
        # Stop both workers: shutdown drains every delivery still running, so once they have
        # exited nothing more can be sent, and the count below is final (no sleep-and-hope).
        await _stop_workers(workers)
        sends = fake_api.sends
        assert len(sends) == 2 and all(s.errcode == 0 for s in sends)
        contents = [s.body["text"]["content"] for s in sends]
        assert sum(c.startswith("主菜单") for c in contents) == 1 and sum(c.startswith("“预约服务”") for c in contents) == 1
        assert len(fake_api.token_requests) == 1  # one process refreshed, the other used its token
        turns = await db.conversations.find({}).sort("text", 1).to_list(10)
        assert [(t["text"], t["message_id"]) for t in turns] == [("0", msg_id_of(second)), ("3", msg_id_of(first))]
    finally:
        await _stop_workers(workers)
