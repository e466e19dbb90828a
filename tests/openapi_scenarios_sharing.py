"""OpenAPI scenarios for the 共享社区 endpoints (see tests/test_openapi.py): the response
codes the generic checks cannot produce."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Awaitable, Callable

from services.content_check import seed_words
from services.sharing import today

POSTS = "/api/v1/sharing/posts"
HELPS = "/api/v1/help-requests"


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _post(h: Any, owner: str = "openapi-owner") -> tuple[Any, str, str, str]:
    """A client, the owner's token, a neighbour's token and the owner's post."""
    client = await h.client()
    owner_token, neighbour = await h.login(client, owner), await h.login(client, "openapi-neighbour")
    resp = await client.post(POSTS, headers=_auth(owner_token), json={"kind": "item", "title": "梯子"})
    assert resp.status == 201, await resp.text()
    return client, owner_token, neighbour, (await resp.json())["id"]


def _dates() -> dict[str, str]:
    day = today() + timedelta(days=1)
    return {"start": day.isoformat(), "end": (day + timedelta(days=2)).isoformat()}


async def _loan(h: Any) -> tuple[Any, str, str, str]:
    client, owner, neighbour, post_id = await _post(h)
    resp = await client.post(f"{POSTS}/{post_id}/borrow", headers=_auth(neighbour), json=_dates())
    assert resp.status == 201, await resp.text()
    return client, owner, neighbour, (await resp.json())["id"]


async def _help(h: Any) -> tuple[Any, str, str, str]:
    client = await h.client()
    asker, volunteer = await h.login(client, "openapi-asker"), await h.login(client, "openapi-volunteer")
    resp = await client.post(HELPS, headers=_auth(asker), json={"kind": "groceries", "details": "带两斤鸡蛋", "when": "明天"})
    assert resp.status == 201, await resp.text()
    return client, asker, volunteer, (await resp.json())["id"]


Setup = Callable[[Any], Awaitable[tuple[Any, str, str, str]]]


def _then(setup: Setup, actor: str, method: str, path: str, **kwargs: Any) -> Callable[[Any], Awaitable[int]]:
    """The scenario: after `setup` (a client, the token of the resident who made something, the
    token of another and the id of what was made), `actor` ("maker" or "other") sends `method`
    to `path` (its {id} is the id)."""

    async def run(h: Any) -> int:
        client, maker, other, made_id = await setup(h)
        token = maker if actor == "maker" else other
        return await h.call(client, method, path.format(id=made_id), token, **kwargs)

    return run


async def _create(h: Any) -> int:
    client = await h.client()
    return await h.call(client, "POST", POSTS, await h.login(client), json={"kind": "skill", "title": "通下水道"})


async def _create_rejected(h: Any) -> int:
    await seed_words(h.db)
    client = await h.client()
    return await h.call(client, "POST", POSTS, await h.login(client), json={"kind": "item", "title": "代开发票"})


async def _withdraw_lent(h: Any) -> int:
    client, owner, _, loan_id = await _loan(h)
    await client.post(f"/api/v1/sharing/loans/{loan_id}/accept", headers=_auth(owner))
    post_id = (await h.db["share_loans"].find_one({"_id": loan_id}))["post_id"]
    return await h.call(client, "DELETE", f"{POSTS}/{post_id}", owner)


async def _borrow(h: Any) -> int:
    client, _, neighbour, post_id = await _post(h)
    return await h.call(client, "POST", f"{POSTS}/{post_id}/borrow", neighbour, json=_dates())


async def _borrow_twice(h: Any) -> int:
    client, _, neighbour, post_id = await _post(h)
    await client.post(f"{POSTS}/{post_id}/borrow", headers=_auth(neighbour), json=_dates())
    return await h.call(client, "POST", f"{POSTS}/{post_id}/borrow", neighbour, json=_dates())


async def _borrow_rejected(h: Any) -> int:
    client, _, neighbour, post_id = await _post(h)
    return await h.call(client, "POST", f"{POSTS}/{post_id}/borrow", neighbour,
                        json={**_dates(), "note": "有事打13812345678"})


async def _accept_twice(h: Any) -> int:
    client, owner, _, loan_id = await _loan(h)
    await client.post(f"/api/v1/sharing/loans/{loan_id}/accept", headers=_auth(owner))
    return await h.call(client, "POST", f"/api/v1/sharing/loans/{loan_id}/accept", owner)


async def _ask(h: Any) -> int:
    client = await h.client()
    return await h.call(client, "POST", HELPS, await h.login(client),
                        json={"kind": "pickup_child", "details": "接孩子到3栋", "when": "周五下午"})


async def _ask_rejected(h: Any) -> int:
    client = await h.client()
    return await h.call(client, "POST", HELPS, await h.login(client),
                        json={"kind": "other", "details": "有事打13812345678", "when": "随时"})


async def _take_taken(h: Any) -> int:
    client, asker, volunteer, help_id = await _help(h)
    await client.post(f"{HELPS}/{help_id}/take", headers=_auth(volunteer))
    other = await h.login(client, "openapi-late")
    return await h.call(client, "POST", f"{HELPS}/{help_id}/take", other)


SCENARIOS = {
    ("GET", POSTS, 200): _then(_post, "other", "GET", POSTS, params={"q": "梯子"}),
    ("POST", POSTS, 201): _create,
    ("POST", POSTS, 422): _create_rejected,
    ("GET", f"{POSTS}/mine", 200): _then(_post, "maker", "GET", f"{POSTS}/mine"),
    ("GET", f"{POSTS}/{{id}}", 200): _then(_post, "other", "GET", f"{POSTS}/{{id}}"),
    ("DELETE", f"{POSTS}/{{id}}", 200): _then(_post, "maker", "DELETE", f"{POSTS}/{{id}}"),
    ("DELETE", f"{POSTS}/{{id}}", 409): _withdraw_lent,
    ("POST", f"{POSTS}/{{id}}/borrow", 201): _borrow,
    ("POST", f"{POSTS}/{{id}}/borrow", 409): _borrow_twice,
    ("POST", f"{POSTS}/{{id}}/borrow", 422): _borrow_rejected,
    ("POST", f"{POSTS}/{{id}}/report", 200): _then(
        _post, "other", "POST", f"{POSTS}/{{id}}/report", json={"reason": "像广告"}),
    ("GET", "/api/v1/sharing/loans", 200): _then(
        _loan, "maker", "GET", "/api/v1/sharing/loans", params={"role": "owner"}),
    ("POST", "/api/v1/sharing/loans/{id}/{action}", 200): _then(
        _loan, "maker", "POST", "/api/v1/sharing/loans/{id}/accept"),
    ("POST", "/api/v1/sharing/loans/{id}/{action}", 409): _accept_twice,
    ("GET", HELPS, 200): _then(_help, "other", "GET", HELPS),
    ("POST", HELPS, 201): _ask,
    ("POST", HELPS, 422): _ask_rejected,
    ("GET", f"{HELPS}/mine", 200): _then(_help, "maker", "GET", f"{HELPS}/mine"),
    ("POST", f"{HELPS}/{{id}}/{{action}}", 200): _then(_help, "other", "POST", f"{HELPS}/{{id}}/take"),
    ("POST", f"{HELPS}/{{id}}/{{action}}", 409): _take_taken,
    ("POST", f"{HELPS}/{{id}}/{{action}}", 400): _then(
        _help, "other", "POST", f"{HELPS}/{{id}}/report", json={"reason": {"$ne": ""}}),
}
