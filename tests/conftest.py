"""Test set-up: real Redis and the real MongoDB-compatible server on 127.0.0.1.

Both are started once per test session on free ports (unless REDIS_URL / MONGODB_URI
name running servers) and stopped at the end. Each test gets its own database name
and an empty Redis database. The trained NLU model (`make test` trains it when stale)
is loaded once and shared by every app the tests create.
"""
from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer
from redis.asyncio import Redis

import nlu  # noqa: F401  (quiet TensorFlow before anything imports it)
from bot.app import create_app
from bot.config import Settings
from nlu import paths
from nlu.service import NLUService
from storage import mongo
from storage.servers import env_or_none, mongo_server, redis_server

# The helper modules several test modules share: their asserts are rewritten too, so a
# failing check inside a helper shows the values it compared.
pytest.register_assert_rewrite("tests.bookings_helpers", "tests.reports_helpers", "tests.wechat_helpers")


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    """URLs of a running Redis and MongoDB-compatible server."""
    base: Path = tmp_path_factory.mktemp("servers")
    started = []
    redis_url, mongo_uri = env_or_none("REDIS_URL"), env_or_none("MONGODB_URI")
    try:
        if not redis_url:
            server = redis_server(base)
            server.start()
            started.append(server)
            redis_url = server.url
        if not mongo_uri:
            server = mongo_server(base)
            server.start()
            started.append(server)
            mongo_uri = server.uri
        yield {"redis_url": redis_url, "mongodb_uri": mongo_uri}
    finally:
        for server in reversed(started):
            server.stop()


@pytest.fixture(scope="session")
def nlu_service() -> NLUService:
    if not paths.model_path().exists():
        pytest.fail("no NLU model: run `make test` (it trains models/linli-nlu.tar.gz)")
    service = NLUService(paths.model_path())
    service.load_sync()
    yield service
    service.close()


@pytest.fixture
def settings(servers) -> Settings:
    return Settings(
        mongodb_uri=servers["mongodb_uri"],
        mongodb_db=f"linli_test_{uuid.uuid4().hex[:10]}",
        redis_url=servers["redis_url"],
    )


@pytest_asyncio.fixture
async def redis(settings):
    client = Redis.from_url(settings.redis_url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.close()


@pytest_asyncio.fixture
async def db(settings):
    client, database = mongo.connect(settings.mongodb_uri, settings.mongodb_db)
    yield database
    await client.drop_database(settings.mongodb_db)
    client.close()


@pytest_asyncio.fixture
async def make_client(settings, nlu_service, redis, db):
    """Factory for a test client of a fresh app (optionally with other settings)."""
    from tests.test_openapi_responses import ResponseChecker

    clients: list[TestClient] = []
    checkers: list[ResponseChecker] = []

    async def make(**overrides) -> TestClient:
        app = create_app(settings.with_(**overrides), nlu=nlu_service)
        checkers.append(ResponseChecker())
        checkers[-1].install(app)  # every /api/v1 answer is checked against the OpenAPI document
        client = TestClient(TestServer(app))
        await client.start_server()
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()
    for checker in checkers:
        checker.check()


@pytest_asyncio.fixture
async def client(make_client) -> TestClient:
    return await make_client()
