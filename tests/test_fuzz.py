"""Fuzzing the chat endpoints with hypothesis against a live server.

Whatever arrives, the answer is a 2xx or a clear 4xx with a JSON error — never a 5xx —
and a refused request writes nothing while an accepted one writes exactly one turn.
"""
from __future__ import annotations

import asyncio
import json
import threading
import uuid

import pytest
import requests
from aiohttp import web
from hypothesis import HealthCheck, given, settings as hsettings, strategies as st
from pymongo import MongoClient

from bot.app import create_app
from bot.config import Settings
from storage.servers import free_port

URL = "/webhooks/rest/webhook"

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
operators = st.sampled_from([{"$gt": ""}, {"$ne": None}, {"$where": "sleep(1000)"}, {"$regex": ".*"}, ["$in"]])
texts = st.text(min_size=0, max_size=60) | st.sampled_from(["你好", "路灯坏了", "1", "０", "👍", "\u200b", "\x00abc", "/greet"])


@pytest.fixture(scope="module")
def live(servers, nlu_service):
    """The app on a real port, served from its own thread and event loop."""
    settings = Settings(
        mongodb_uri=servers["mongodb_uri"], mongodb_db=f"linli_fuzz_{uuid.uuid4().hex[:8]}",
        redis_url=servers["redis_url"],
    )
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(create_app(settings, nlu=nlu_service))
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert started.wait(60)
    mongo = MongoClient(settings.mongodb_uri)
    yield f"http://127.0.0.1:{port}", mongo[settings.mongodb_db]
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    mongo.drop_database(settings.mongodb_db)
    mongo.close()


def _check(resp: requests.Response, db, before: int) -> None:
    assert resp.status_code < 500, (resp.status_code, resp.text[:300])
    after = db.conversations.count_documents({})
    if resp.status_code == 200:
        assert isinstance(resp.json(), list)
        assert after == before + 1
    else:
        error = resp.json()["error"]
        assert error["code"] and error["message"]
        assert after == before


FUZZ = hsettings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(body=json_values)
def test_any_json_body(live, body):
    base, db = live
    before = db.conversations.count_documents({})
    _check(requests.post(base + URL, json=body, timeout=30), db, before)


@FUZZ
@given(sender=st.text(max_size=20) | json_values | operators, message=texts | json_values | operators, metadata=json_values)
def test_any_field_values(live, sender, message, metadata):
    base, db = live
    before = db.conversations.count_documents({})
    body = {"sender": sender, "message": message, "metadata": metadata}
    _check(requests.post(base + URL, data=json.dumps(body), timeout=30), db, before)


@FUZZ
@given(raw=st.binary(max_size=300))
def test_any_bytes(live, raw):
    base, db = live
    before = db.conversations.count_documents({})
    _check(requests.post(base + URL, data=raw, headers={"Content-Type": "application/json"}, timeout=30), db, before)
