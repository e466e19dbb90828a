"""Stations and elder-mode digits: how fast are the answers that never touch the model?

    .venv/bin/python -m bench.stations_bench [--turns 400] [--sizes 20,1000,10000]

Starts its own Redis and MongoDB-compatible server (temporary data). Prints
1. "nearest 3 open stations with an amenity" ($geoNear on the 2dsphere index) at several
   collection sizes: p50/p95/p99 per query;
2. elder-mode digit turns through the chat pipeline (ChatService.handle: Redis state and
   lock, router, handlers, Mongo conversation log; the model is not loaded and never
   asked): p50/p95/p99 per turn, for the menu, the station flow and the handoff flow.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import tempfile
import time
from datetime import datetime
from pathlib import Path

from bench.common import Stats, fmt_row, header
from bot.chat import ChatService
from bot.config import Settings
from bot.messages import InboundMessage
from services.locations import RecentLocations
from storage.communities import CommunityRepository
from handlers import registry
from handlers.base import Services
from handlers.router import Router
from nlu.service import NLUService
from services.events import EventBus
from services.handoff import HandoffService
from services.opening_hours import TZ, parse_hours, week_intervals
from services.residents import ResidentService
from services.station_import import seed_demo_stations
from services.stations import StationService
from storage import mongo, redis_client
from storage.callbacks import CallbackRepository
from storage.conversations import ConversationRepository
from storage.elder_prefs import ElderPreferences
from storage.dialogue_state import DialogueStateStore
from storage.residents import ResidentRepository
from storage.seed import COMMUNITIES
from storage.servers import mongo_server, redis_server
from storage.stations import AMENITIES, CourierRegistry, StationRepository, point

NOON = datetime(2026, 11, 25, 12, 30, tzinfo=TZ)
HUAFU = (22.5486, 114.0760)
HOURS = [parse_hours(text) for text in ("24小时", "每天 06:00-22:00", "周一至周五 09:00-12:00、14:00-18:00", "每天 18:00-03:00")]


async def fill(db, size: int) -> None:
    """`size` stations spread over central Shenzhen (about 20 x 15 km)."""
    await db.stations.delete_many({})
    rng = random.Random(size)
    docs = []
    for i in range(size):
        hours = rng.choice(HOURS)
        docs.append({
            "_id": f"b-{i}", "name": f"能量栈{i}", "kind": "energy", "address": f"测试路{i}号",
            "location": point(22.50 + rng.random() * 0.14, 113.95 + rng.random() * 0.20),
            "amenities": rng.sample(list(AMENITIES), 3), "hours": hours, "open_week": week_intervals(hours),
            "phone": "", "community": rng.choice(COMMUNITIES)[0], "active": True,
        })
    for start in range(0, len(docs), 1000):
        await db.stations.insert_many(docs[start:start + 1000])


async def geo(db, sizes: list[int], queries: int) -> None:
    service = StationService(StationRepository(db), clock=lambda: NOON, bus=EventBus())
    print("nearest 3 open stations with an amenity ($geoNear)")
    print(header())
    for size in sizes:
        await fill(db, size)
        stats = Stats()
        rng = random.Random(1)
        started = time.perf_counter()
        for _ in range(queries):
            lat, lng = 22.52 + rng.random() * 0.10, 113.98 + rng.random() * 0.14
            t = time.perf_counter()
            await service.nearby(lat, lng, amenity=rng.choice(list(AMENITIES)))
            stats.add(time.perf_counter() - t)
        stats.elapsed = time.perf_counter() - started
        print(fmt_row(f"{size} stations", stats))


async def digits(db, redis, turns: int) -> None:
    settings = Settings()
    await db.communities.insert_many([{"_id": c, "name": n, "street": "huafu"} for c, n in COMMUNITIES])
    await db.stations.delete_many({})
    await seed_demo_stations(db)
    conversations = ConversationRepository(db)
    stations = StationService(StationRepository(db), CourierRegistry(db), clock=lambda: NOON, bus=EventBus())
    residents = ResidentService(ResidentRepository(db), CommunityRepository(db), ElderPreferences(redis),
                                default_community=settings.default_community)
    services = Services(settings=settings, residents=residents, stations=stations,
                        locations=RecentLocations(redis), handoff=HandoffService(CallbackRepository(db), conversations))
    nlu = NLUService(Path("/nonexistent/never-loaded.tar.gz"))
    chat = ChatService(nlu=nlu, states=DialogueStateStore(redis, 1800), conversations=conversations,
                       router=Router(registry), services=services)
    script = ["8", "7", "1", "1", "2", "0", "9", "1", "2", "1", "1", "0"]
    stats = Stats()
    started = time.perf_counter()
    for i in range(turns):
        sender = f"elder-{i // len(script)}"
        message = InboundMessage(channel="rest", sender=sender, text=script[i % len(script)])
        t = time.perf_counter()
        await chat.handle(message)
        stats.add(time.perf_counter() - t)
    stats.elapsed = time.perf_counter() - started
    assert nlu.parses == 0 and not nlu.ready
    print("elder-mode digit turns (ChatService.handle, model never asked)")
    print(header())
    print(fmt_row("menu / station / handoff digits", stats))


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        servers = [redis_server(base), mongo_server(base)]
        for server in servers:
            server.start()
        try:
            client, db = mongo.connect(servers[1].uri, "bench_stations")
            redis = redis_client.connect(servers[0].url)
            await mongo.ensure_indexes(db, conversation_retention_days=180)
            await geo(db, [int(s) for s in args.sizes.split(",")], args.queries)
            await digits(db, redis, args.turns)
            await redis.close()
            client.close()
        finally:
            for server in reversed(servers):
                server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=400)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--sizes", default="20,1000,10000")
    asyncio.run(main(parser.parse_args()))
