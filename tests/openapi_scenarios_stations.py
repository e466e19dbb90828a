"""OpenAPI scenarios for the station and courier endpoints (see tests/test_openapi.py):
the response codes the generic checks cannot produce."""
from __future__ import annotations

from typing import Any

from services.station_import import seed_demo_stations
from storage.seed import COMMUNITIES


async def _seeded(h: Any) -> Any:
    if not await h.db.communities.count_documents({}):
        await h.db.communities.insert_many([{"_id": c, "name": n, "street": "huafu"} for c, n in COMMUNITIES])
    await seed_demo_stations(h.db)
    return await h.client()


async def _nearby(h: Any) -> int:
    client = await _seeded(h)
    return await h.call(client, "GET", "/api/v1/stations", params={"lat": "22.5486", "lng": "114.076",
                                                                   "open_now": "false"})


async def _station(h: Any) -> int:
    client = await _seeded(h)
    return await h.call(client, "GET", "/api/v1/stations/demo-centre-huafu")


def _courier(method: str, **kwargs: Any):
    async def run(h: Any) -> int:
        client = await h.client()
        return await h.call(client, method, "/api/v1/couriers/me", await h.login(client), **kwargs)

    return run


SCENARIOS = {
    ("GET", "/api/v1/stations", 200): _nearby,
    ("GET", "/api/v1/stations/{station_id}", 200): _station,
    ("GET", "/api/v1/couriers/me", 200): _courier("GET"),
    ("PUT", "/api/v1/couriers/me", 200): _courier("PUT", json={"company": "顺丰"}),
    ("DELETE", "/api/v1/couriers/me", 204): _courier("DELETE"),
}
