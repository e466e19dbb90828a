"""OpenAPI scenarios for the points endpoints (see tests/test_openapi.py): the response
codes the generic checks cannot produce."""
from __future__ import annotations

from typing import Any

from bot import keys
from services.points import seed_points
from storage.ledger import ISSUER, resident_account

COMMUNITY = "huafu-tianmian"
REDEEM = "/api/v1/points/redemptions"


async def _resident(h: Any, points: int = 0, openid: str = "openapi-points") -> tuple[Any, str, str]:
    """A client, a resident's token with `points` credited, and the soap's item id."""
    await seed_points(h.db, [COMMUNITY])
    client = await h.client()
    token = await h.login(client, openid)
    resident = await h.db["residents"].find_one({"user_keys": f"mp:{openid}"})
    if points:
        await client.app[keys.POINTS].ledger.post(f"openapi-seed-{openid}", resident_account(resident["_id"]),
                                                  ISSUER, points, "award", earned=points, community=COMMUNITY)
    return client, token, f"{COMMUNITY}-soap"


async def _redeemed(h: Any) -> tuple[Any, str, str]:
    client, token, item_id = await _resident(h, 50)
    resp = await client.post(REDEEM, headers={"Authorization": f"Bearer {token}"},
                             json={"item_id": item_id, "idempotency_key": "openapi-0001"})
    assert resp.status == 201, await resp.text()
    return client, token, (await resp.json())["id"]


async def _passbook(h: Any) -> int:
    client, token, _ = await _resident(h, 10)
    return await h.call(client, "GET", "/api/v1/points", token)


async def _shop(h: Any) -> int:
    client, token, _ = await _resident(h)
    return await h.call(client, "GET", "/api/v1/points/shop", token)


async def _redeem(h: Any) -> int:
    client, token, item_id = await _resident(h, 50)
    return await h.call(client, "POST", REDEEM, token, json={"item_id": item_id, "idempotency_key": "openapi-0001"})


async def _redeem_unknown_item(h: Any) -> int:
    client, token, _ = await _resident(h, 50)
    return await h.call(client, "POST", REDEEM, token, json={"item_id": "no-such-item", "idempotency_key": "openapi-0002"})


async def _redeem_without_points(h: Any) -> int:
    client, token, item_id = await _resident(h)
    return await h.call(client, "POST", REDEEM, token, json={"item_id": item_id, "idempotency_key": "openapi-0003"})


async def _redemptions(h: Any) -> int:
    client, token, _ = await _redeemed(h)
    return await h.call(client, "GET", REDEEM, token)


async def _cancel(h: Any) -> int:
    client, token, reservation_id = await _redeemed(h)
    return await h.call(client, "POST", f"{REDEEM}/{reservation_id}/cancel", token)


async def _cancel_twice(h: Any) -> int:
    client, token, reservation_id = await _redeemed(h)
    await client.post(f"{REDEEM}/{reservation_id}/cancel", headers={"Authorization": f"Bearer {token}"})
    return await h.call(client, "POST", f"{REDEEM}/{reservation_id}/cancel", token)


async def _leaderboard(h: Any) -> int:
    client, token, _ = await _resident(h, 10)
    return await h.call(client, "GET", "/api/v1/points/leaderboard", token)


SCENARIOS = {
    ("GET", "/api/v1/points", 200): _passbook,
    ("GET", "/api/v1/points/shop", 200): _shop,
    ("POST", REDEEM, 201): _redeem,
    ("POST", REDEEM, 404): _redeem_unknown_item,
    ("POST", REDEEM, 409): _redeem_without_points,
    ("GET", REDEEM, 200): _redemptions,
    ("POST", f"{REDEEM}/{{id}}/cancel", 200): _cancel,
    ("POST", f"{REDEEM}/{{id}}/cancel", 409): _cancel_twice,
    ("GET", "/api/v1/points/leaderboard", 200): _leaderboard,
}
