"""Several worker processes behind one port share dialogue state and dedup via Redis."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time

import aiohttp

from bot import keys
from bot.messages import InboundMessage
from storage.servers import free_port

URL = "/webhooks/rest/webhook"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def test_two_apps_share_dialogue_state_and_dedup(make_client, db):
    first, second = await make_client(), await make_client()

    async def misunderstood(client):
        message = InboundMessage(channel="rest", sender="u-shared", text="阿巴", metadata={"intent": "nlu_fallback"})
        return (await client.app[keys.CHAT].handle(message))[0].text

    assert "没太听明白" in await misunderstood(first)
    assert "还是没听懂" in await misunderstood(second)  # the count lives in Redis, not in a process

    body = {"sender": "u-dup", "message": "你好", "metadata": {"message_id": "same-1"}}
    responses = await asyncio.gather(*(c.post(URL, json=body) for c in (first, second, first, second)))
    assert {r.status for r in responses} == {200}
    assert len({await r.text() for r in responses}) == 1
    assert await db.conversations.count_documents({"user": "u-dup"}) == 1


async def test_make_run_workers_serve_one_port(settings, db):
    """`python -m bot.launch --workers 2` (what `make run WORKERS=2` runs) on the test servers."""
    port = free_port()
    env = {
        **os.environ, "MONGODB_URI": settings.mongodb_uri, "MONGODB_DB": settings.mongodb_db,
        "REDIS_URL": settings.redis_url, "LINLI_PORT": str(port), "LINLI_LOG_LEVEL": "WARNING",
    }
    proc = subprocess.Popen([sys.executable, "-m", "bot.launch", "--workers", "2"], cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        pids: set[int] = set()
        ready: set[int] = set()
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (len(pids) == 2 and ready == pids):
            try:
                # A new connection each time, so the kernel spreads them over the workers.
                async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session:
                    async with session.get(f"{base}/readyz") as resp:
                        body = await resp.json()
                        pids.add(body["pid"])
                        if resp.status == 200:
                            ready.add(body["pid"])
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
        assert len(pids) == 2, pids
        assert ready == pids
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{base}{URL}", json={"sender": "w1", "message": "你好"}) as resp:
                assert resp.status == 200
                assert "邻里小助手" in (await resp.json())[0]["text"]
        assert await db.conversations.count_documents({"user": "w1"}) == 1
        assert await db.communities.count_documents({}) >= 8  # launch seeded the demo data
    finally:
        proc.terminate()
        proc.wait(60)
    assert proc.returncode == 0
