"""Liveness (`/healthz`) and readiness (`/readyz`: Mongo, Redis and the NLU model)."""
from __future__ import annotations

import asyncio
import os

from aiohttp import web

from bot import keys
from storage import mongo, redis_client

routes = web.RouteTableDef()


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    # The pid tells which worker answered when several share the port.
    return web.json_response({"status": "ok", "pid": os.getpid()})


@routes.get("/readyz")
async def readyz(request: web.Request) -> web.Response:
    app = request.app
    mongo_ok, redis_ok = await asyncio.gather(
        asyncio.wait_for(mongo.ping(app[keys.MONGO]), 3),
        asyncio.wait_for(redis_client.ping(app[keys.REDIS]), 3),
        return_exceptions=True,
    )
    checks = {
        "mongo": mongo_ok is True,
        "redis": redis_ok is True,
        "nlu": app[keys.NLU].ready,
    }
    ready = all(checks.values())
    return web.json_response(
        {"status": "ready" if ready else "not_ready", "checks": checks, "pid": os.getpid()},
        status=200 if ready else 503,
    )
