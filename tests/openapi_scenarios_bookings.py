"""OpenAPI scenarios for the booking endpoints (see tests/test_openapi.py): the response
codes the generic checks cannot produce."""
from __future__ import annotations

from typing import Any, Awaitable, Callable

from bot import keys
from storage.bookings import seed_catalog
from tests.api_helpers import cancellable

B = "/api/v1"
NOBODY = "5f" * 12  # a well-formed id of no linked resident


async def _ready(h: Any, openid: str = "openapi-user", birth_year: int = 1950) -> tuple[Any, str]:
    """A client with the demo catalog and a logged-in resident with a birth year."""
    client = await h.client()
    await seed_catalog(h.db)
    token = await h.login(client, openid)
    resp = await client.patch(f"{B}/me", json={"birth_year": birth_year}, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 200, await resp.text()
    return client, token


async def _slot(client: Any, token: str, capacity: int | None = None) -> str:
    resp = await client.get(f"{B}/services/volunteer/slots", headers={"Authorization": f"Bearer {token}"})
    slot_id = cancellable((await resp.json())["slots"])["id"]
    if capacity is not None:
        await client.app[keys.MONGO]["booking_slots"].update_one({"_id": slot_id}, {"$set": {"capacity": capacity}})
    return slot_id


async def _book(client: Any, token: str, slot_id: str, **extra: Any) -> dict:
    resp = await client.post(f"{B}/bookings", json={"slot_id": slot_id, **extra},
                             headers={"Authorization": f"Bearer {token}"})
    assert resp.status in (201, 202), await resp.text()
    return await resp.json()


def _ready_then(method: str, path: str, **kwargs: Any) -> Callable[[Any], Awaitable[int]]:
    """The scenario: a resident made ready by `_ready` sends `method` to `path`."""

    async def run(h: Any) -> int:
        client, token = await _ready(h)
        return await h.call(client, method, path, token, **kwargs)

    return run


async def _create(h: Any) -> int:
    client, token = await _ready(h)
    return await h.call(client, "POST", f"{B}/bookings", token, json={"slot_id": await _slot(client, token)})


async def _full(h: Any) -> tuple[Any, str, str, str, dict]:
    """Two residents and a slot of one place, which the first has booked."""
    client, first = await _ready(h, "first")
    second = await h.login(client, "second")
    await client.patch(f"{B}/me", json={"birth_year": 1990}, headers={"Authorization": f"Bearer {second}"})
    slot_id = await _slot(client, first, capacity=1)
    booking = (await _book(client, first, slot_id))["booking"]
    return client, first, second, slot_id, booking


async def _create_queued(h: Any) -> int:
    client, _, second, slot_id, _ = await _full(h)
    return await h.call(client, "POST", f"{B}/bookings", second, json={"slot_id": slot_id, "waitlist": True})


async def _create_not_linked(h: Any) -> int:
    client, token = await _ready(h)
    return await h.call(client, "POST", f"{B}/bookings", token,
                        json={"slot_id": await _slot(client, token), "for_resident_id": NOBODY})


async def _create_twice(h: Any) -> int:
    client, token = await _ready(h)
    slot_id = await _slot(client, token)
    await _book(client, token, slot_id)
    return await h.call(client, "POST", f"{B}/bookings", token, json={"slot_id": slot_id})


async def _cancel(h: Any) -> int:
    client, token = await _ready(h)
    booking = (await _book(client, token, await _slot(client, token)))["booking"]
    return await h.call(client, "POST", f"{B}/bookings/{booking['id']}/cancel", token, json={"reason": "有事"})


async def _cancel_twice(h: Any) -> int:
    client, token = await _ready(h)
    booking = (await _book(client, token, await _slot(client, token)))["booking"]
    await h.call(client, "POST", f"{B}/bookings/{booking['id']}/cancel", token)
    return await h.call(client, "POST", f"{B}/bookings/{booking['id']}/cancel", token)


async def _queued(h: Any) -> tuple[Any, str, str, str, dict]:
    """Two residents; the second waits for the first's place."""
    client, first, second, slot_id, booking = await _full(h)
    entry = (await _book(client, second, slot_id, waitlist=True))["waitlist"]
    return client, first, second, entry["id"], booking


async def _accept(h: Any) -> int:
    client, first, second, entry_id, booking = await _queued(h)
    await h.call(client, "POST", f"{B}/bookings/{booking['id']}/cancel", first)
    return await h.call(client, "POST", f"{B}/waitlist/{entry_id}/accept", second)


async def _accept_not_offered(h: Any) -> int:
    client, _, second, entry_id, _ = await _queued(h)
    return await h.call(client, "POST", f"{B}/waitlist/{entry_id}/accept", second)


async def _decline(h: Any) -> int:
    client, _, second, entry_id, _ = await _queued(h)
    return await h.call(client, "POST", f"{B}/waitlist/{entry_id}/decline", second)


async def _decline_twice(h: Any) -> int:
    client, _, second, entry_id, _ = await _queued(h)
    await h.call(client, "POST", f"{B}/waitlist/{entry_id}/decline", second)
    return await h.call(client, "POST", f"{B}/waitlist/{entry_id}/decline", second)


async def _linked(h: Any) -> tuple[Any, str, str, dict]:
    client, helper = await _ready(h, "helper", birth_year=1985)
    elder = await h.login(client, "elder")
    resp = await client.post(f"{B}/resident-links", json={"relation": "volunteer"},
                             headers={"Authorization": f"Bearer {helper}"})
    link = (await resp.json())["link"]
    return client, helper, elder, link


async def _link_confirm(h: Any) -> int:
    client, _, elder, link = await _linked(h)
    return await h.call(client, "POST", f"{B}/resident-links/confirm", elder, json={"code": link["code"]})


async def _link_revoke(h: Any) -> int:
    client, helper, _, link = await _linked(h)
    return await h.call(client, "DELETE", f"{B}/resident-links/{link['id']}", helper)


SCENARIOS = {
    ("GET", f"{B}/services", 200): _ready_then("GET", f"{B}/services"),
    ("GET", f"{B}/services", 403): _ready_then("GET", f"{B}/services?for={NOBODY}"),
    ("GET", f"{B}/services/{{code}}/slots", 200): _ready_then("GET", f"{B}/services/elderly_meal/slots"),
    ("GET", f"{B}/services/{{code}}/slots", 403): _ready_then(
        "GET", f"{B}/services/elderly_meal/slots?for={NOBODY}"),
    ("GET", f"{B}/services/{{code}}/slots", 404): _ready_then("GET", f"{B}/services/massage/slots"),
    ("GET", f"{B}/bookings", 200): _ready_then("GET", f"{B}/bookings"),
    ("POST", f"{B}/bookings", 201): _create,
    ("POST", f"{B}/bookings", 202): _create_queued,
    ("POST", f"{B}/bookings", 403): _create_not_linked,
    ("POST", f"{B}/bookings", 404): _ready_then("POST", f"{B}/bookings", json={"slot_id": "0" * 24}),
    ("POST", f"{B}/bookings", 409): _create_twice,
    ("POST", f"{B}/bookings/{{booking_id}}/cancel", 200): _cancel,
    ("POST", f"{B}/bookings/{{booking_id}}/cancel", 409): _cancel_twice,
    ("POST", f"{B}/waitlist/{{entry_id}}/accept", 201): _accept,
    ("POST", f"{B}/waitlist/{{entry_id}}/accept", 409): _accept_not_offered,
    ("POST", f"{B}/waitlist/{{entry_id}}/decline", 200): _decline,
    ("POST", f"{B}/waitlist/{{entry_id}}/decline", 409): _decline_twice,
    ("GET", f"{B}/resident-links", 200): _ready_then("GET", f"{B}/resident-links"),
    ("POST", f"{B}/resident-links", 201): _ready_then(
        "POST", f"{B}/resident-links", json={"relation": "family", "label": "妈妈"}),
    ("POST", f"{B}/resident-links/confirm", 200): _link_confirm,
    ("DELETE", f"{B}/resident-links/{{link_id}}", 204): _link_revoke,
}
