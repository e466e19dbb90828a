"""Reliability drills: Redis and the MongoDB server restart in the middle of a load run.

Pass when no acknowledged (HTTP 200) message is lost from the conversation log, the
app recovers without a restart, and /readyz reports the outage while it lasts. The
drill owns its servers (not the shared session ones), with --sync-on-commit so that
a killed Mongo server keeps what it acknowledged.
"""
from __future__ import annotations

import asyncio
import itertools

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from bot.app import create_app
from bot.config import Settings
from storage import mongo
from storage.servers import mongo_server, redis_server

URL = "/webhooks/rest/webhook"


@pytest_asyncio.fixture
async def drill(tmp_path, nlu_service):
    redis, db_server = redis_server(tmp_path), mongo_server(tmp_path, sync_on_commit=True)
    redis.start()
    db_server.start()
    settings = Settings(mongodb_uri=db_server.uri, mongodb_db="linli_drill", redis_url=redis.url,
                        rate_rest_ip_per_minute=0, rate_rest_global_per_minute=0)  # a drill, not an abuse
    client = TestClient(TestServer(create_app(settings, nlu=nlu_service)))
    await client.start_server()
    try:
        yield client, redis, db_server, settings
    finally:
        await client.close()
        db_server.stop()
        redis.stop()


class Progress:
    """What the load run has seen so far; waiting on it wakes at every answer."""

    def __init__(self) -> None:
        self.acked: list[str] = []
        self.failed: list[int] = []
        self._changed = asyncio.Condition()

    async def record(self, sender: str, status: int) -> None:
        async with self._changed:
            if status == 200:
                self.acked.append(sender)
            else:
                self.failed.append(status)
            self._changed.notify_all()

    async def until(self, check, what: str, bound: float = 120.0) -> None:
        """Return once `check()` holds (the bound only stops a broken run)."""
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(check), bound)
            except asyncio.TimeoutError:
                pytest.fail(f"gave up waiting for {what}")


async def _load(client: TestClient, stop: asyncio.Event, progress: Progress) -> None:
    """Send messages one after another (distinct texts) until told to stop."""
    texts = ["你好", "谢谢", "拜拜", "你能做什么"]
    for n in itertools.count():
        if stop.is_set():
            return
        sender = f"drill-{n}"
        resp = await client.post(URL, json={"sender": sender, "message": texts[n % len(texts)]})
        await resp.read()
        if resp.status != 200:
            assert resp.status == 503, resp.status  # outages are a clear 503, never a 500
        await progress.record(sender, resp.status)
        await asyncio.sleep(0.01)  # the load's pace (part of the drill, not a wait for anything)


async def _ready(client: TestClient) -> tuple[int, dict]:
    resp = await client.get("/readyz")
    return resp.status, (await resp.json())["checks"]


async def _wait_status(client: TestClient, wanted: int, timeout: float = 60) -> tuple[int, dict]:
    """Ask /readyz until it answers `wanted` (the server has no event to wait on)."""
    for _ in range(int(timeout * 4)):
        status, checks = await _ready(client)
        if status == wanted:
            return status, checks
        await asyncio.sleep(0.25)
    pytest.fail(f"/readyz did not answer {wanted}")


async def _wait_ready(client: TestClient, timeout: float = 60) -> None:
    await _wait_status(client, 200, timeout)


async def _noticed_and_recovered(client: TestClient, progress: Progress, server, name: str) -> int:
    """After `server` went down: the load notices, then the server restarts, /readyz is ready
    again and messages are acknowledged again. How many were acknowledged before that last part."""
    acked, failed = progress.acked, progress.failed
    failed_before = len(failed)
    await progress.until(lambda: len(failed) > failed_before, f"the load to notice the {name} outage")
    server.start()
    await _wait_ready(client)
    acked_before = len(acked)
    await progress.until(lambda: len(acked) > acked_before + 5,
                         f"messages acknowledged after {name} came back")
    return acked_before


async def test_restarts_lose_no_acknowledged_message(drill):
    client, redis, db_server, settings = drill
    await _wait_ready(client)
    stop, progress = asyncio.Event(), Progress()
    acked, failed = progress.acked, progress.failed
    loader = asyncio.create_task(_load(client, stop, progress))
    await progress.until(lambda: len(acked) >= 20, "the load run to get going")

    redis.kill()  # crash, not a clean shutdown
    status, checks = await _ready(client)
    assert status == 503 and checks["redis"] is False and checks["mongo"] is True
    await _noticed_and_recovered(client, progress, redis, "Redis")

    db_server.kill()
    status, checks = await _wait_status(client, 503)
    assert status == 503 and checks["mongo"] is False
    before_end = await _noticed_and_recovered(client, progress, db_server, "MongoDB")
    stop.set()
    await loader
    assert len(acked) > before_end, "no message acknowledged after MongoDB came back"
    assert failed, "the outages were not noticed"

    mongo_client, db = mongo.connect(settings.mongodb_uri, settings.mongodb_db)
    try:
        stored = {doc["user"] async for doc in db.conversations.find({}, {"user": 1})}
    finally:
        mongo_client.close()
    lost = [sender for sender in acked if sender not in stored]
    assert not lost, f"{len(lost)} acknowledged messages lost: {lost[:5]}"
