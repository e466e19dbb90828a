"""OpenAPI scenarios for the report endpoints (see tests/test_openapi.py): the response
codes the generic checks cannot produce."""
from __future__ import annotations

from typing import Any

from aiohttp import FormData

from bot import keys
from storage.reports import Actor

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64 + b"\xff\xd9"
BODY = {"category": "road", "description": "路面有个大坑", "location_text": "华富路口"}
STAFF = Actor("staff", "openapi", "测试员")


async def _with_report(h: Any, resolved: bool = False, photo: bool = False) -> tuple[Any, str, str]:
    """A client, a resident's token and one of their tickets."""
    client = await h.client()
    token = await h.login(client)
    if photo:
        form = FormData()
        for name, value in BODY.items():
            form.add_field(name, value)
        form.add_field("photo", JPEG, filename="p.jpg", content_type="image/jpeg")
        resp = await client.post("/api/v1/reports", data=form, headers={"Authorization": f"Bearer {token}"})
    else:
        resp = await client.post("/api/v1/reports", json=BODY, headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 201, await resp.text()
    ticket = (await resp.json())["report"]["ticket"]
    if resolved:
        await client.app[keys.REPORTS].act(ticket, "resolve", STAFF, note="已修补")
    return client, token, ticket


async def _create(h: Any) -> int:
    client = await h.client()
    return await h.call(client, "POST", "/api/v1/reports", await h.login(client), json=BODY)


async def _create_plain_text(h: Any) -> int:
    client = await h.client()
    return await h.call(client, "POST", "/api/v1/reports", await h.login(client), data="category=road",
                        headers={"Content-Type": "text/plain"})


async def _list(h: Any) -> int:
    client, token, _ = await _with_report(h)
    return await h.call(client, "GET", "/api/v1/reports", token)


async def _get(h: Any) -> int:
    client, token, ticket = await _with_report(h)
    return await h.call(client, "GET", f"/api/v1/reports/{ticket}", token)


async def _photo(h: Any) -> int:
    client, token, ticket = await _with_report(h, photo=True)
    return await h.call(client, "GET", f"/api/v1/reports/{ticket}/photos/0", token)


async def _rate(h: Any) -> int:
    client, token, ticket = await _with_report(h, resolved=True)
    return await h.call(client, "POST", f"/api/v1/reports/{ticket}/rating", token, json={"stars": 5})


async def _rate_too_early(h: Any) -> int:
    client, token, ticket = await _with_report(h)
    return await h.call(client, "POST", f"/api/v1/reports/{ticket}/rating", token, json={"stars": 5})


async def _reopen(h: Any) -> int:
    client, token, ticket = await _with_report(h, resolved=True)
    return await h.call(client, "POST", f"/api/v1/reports/{ticket}/reopen", token, json={"note": "还是坏的"})


async def _reopen_unresolved(h: Any) -> int:
    client, token, ticket = await _with_report(h)
    return await h.call(client, "POST", f"/api/v1/reports/{ticket}/reopen", token, json={})


async def _notices(h: Any) -> int:
    client, token, ticket = await _with_report(h, resolved=True)
    return await h.call(client, "GET", "/api/v1/notices", token, params={"unread": "1"})


async def _read_notices(h: Any) -> int:
    client, token, _ = await _with_report(h, resolved=True)
    return await h.call(client, "POST", "/api/v1/notices/read", token, json={})


SCENARIOS = {
    ("POST", "/api/v1/reports", 201): _create,
    ("POST", "/api/v1/reports", 415): _create_plain_text,
    ("GET", "/api/v1/reports", 200): _list,
    ("GET", "/api/v1/reports/{ticket}", 200): _get,
    ("GET", "/api/v1/reports/{ticket}/photos/{index}", 200): _photo,
    ("POST", "/api/v1/reports/{ticket}/rating", 200): _rate,
    ("POST", "/api/v1/reports/{ticket}/rating", 409): _rate_too_early,
    ("POST", "/api/v1/reports/{ticket}/reopen", 200): _reopen,
    ("POST", "/api/v1/reports/{ticket}/reopen", 409): _reopen_unresolved,
    ("GET", "/api/v1/notices", 200): _notices,
    ("POST", "/api/v1/notices/read", 200): _read_notices,
}
