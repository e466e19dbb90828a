"""The OpenAPI document at /api/v1/openapi.json matches the app: every documented
path+method is a route, every /api/v1 route is documented, and every documented response
code is actually produced (each one is exercised below).

Codes common to many routes are produced generically (401 without a token, 429 with a
limit of one request per minute, 400 and 413 for operations with a body, 404 for paths
with parameters, using an id that does not exist). Every other code needs a scenario:
`SCENARIOS` here, or `SCENARIOS` in a module `tests/openapi_scenarios_<capability>.py`
(capability engineers add theirs there), keyed by (METHOD, path, status).
"""
from __future__ import annotations

import importlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Awaitable, Callable
from urllib.parse import quote

import pytest
from aiohttp.test_utils import TestClient

from bot.api.openapi import build_document
from bot.app import create_app
from tests.api_helpers import bearer, fake_mp, fast_argon2, mp_settings, seed_places  # noqa: F401
from tests.fake_wechat_mp import FakeWeChatMP

DOC = build_document()
METHODS = {"get", "post", "put", "patch", "delete"}
MISSING_ID = "000000000000000000000000"
MISSING_IDS = [MISSING_ID, "999999", "missing"]
BAD_VALUES = ["not-a-valid-value", "-1", "x" * 300, '{"$gt": ""}', "1.5"]


@dataclass
class Harness:
    """What a scenario gets: a fresh app per scenario (client), the fake WeChat, the db."""

    make_client: Callable[..., Awaitable[TestClient]]
    fake: FakeWeChatMP
    db: Any

    async def client(self, **overrides: Any) -> TestClient:
        return await self.make_client(**mp_settings(self.fake, **overrides))

    async def login(self, client: TestClient, openid: str = "openapi-user") -> str:
        resp = await client.post("/api/v1/auth/login", json={"code": self.fake.issue(openid)})
        assert resp.status == 200, await resp.text()
        return (await resp.json())["token"]

    async def call(self, client: TestClient, method: str, path: str, token: str | None = None, **kwargs: Any) -> int:
        headers = dict(kwargs.pop("headers", {}))
        if token:
            headers.update(bearer(token))
        resp = await client.request(method, path, headers=headers, **kwargs)
        await resp.read()
        return resp.status


Scenario = Callable[[Harness], Awaitable[int]]


async def _login_ok(h: Harness) -> int:
    return await h.call(await h.client(), "POST", "/api/v1/auth/login", json={"code": h.fake.issue("o")})


async def _login_invalid_code(h: Harness) -> int:
    return await h.call(await h.client(), "POST", "/api/v1/auth/login", json={"code": "nope"})


async def _login_risky(h: Harness) -> int:
    h.fake.risky.add("risky")
    return await h.call(await h.client(), "POST", "/api/v1/auth/login", json={"code": h.fake.issue("risky")})


async def _login_wechat_error(h: Harness) -> int:
    client = await h.client(mp_app_secret="wrong-secret")
    return await h.call(client, "POST", "/api/v1/auth/login", json={"code": h.fake.issue("o")})


async def _login_busy(h: Harness) -> int:
    h.fake.busy = True
    return await h.call(await h.client(), "POST", "/api/v1/auth/login", json={"code": h.fake.issue("o")})


def _authed(method: str, path: str, **kwargs: Any) -> Scenario:
    async def run(h: Harness) -> int:
        client = await h.client()
        return await h.call(client, method, path, await h.login(client), **kwargs)

    return run


def _public(method: str, path: str) -> Scenario:
    async def run(h: Harness) -> int:
        return await h.call(await h.client(), method, path)

    return run


SCENARIOS: dict[tuple[str, str, int], Scenario] = {
    ("POST", "/api/v1/auth/login", 200): _login_ok,
    ("POST", "/api/v1/auth/login", 401): _login_invalid_code,
    ("POST", "/api/v1/auth/login", 403): _login_risky,
    ("POST", "/api/v1/auth/login", 502): _login_wechat_error,
    ("POST", "/api/v1/auth/login", 503): _login_busy,
    ("POST", "/api/v1/auth/logout", 204): _authed("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/openapi.json", 200): _public("GET", "/api/v1/openapi.json"),
    ("GET", "/api/v1/communities", 200): _public("GET", "/api/v1/communities"),
    ("GET", "/api/v1/me", 200): _authed("GET", "/api/v1/me"),
    ("PATCH", "/api/v1/me", 200): _authed("PATCH", "/api/v1/me", json={"building": "3栋"}),
    ("DELETE", "/api/v1/me", 204): _authed("DELETE", "/api/v1/me"),
    ("GET", "/api/v1/me/export", 200): _authed("GET", "/api/v1/me/export"),
}
for _path in sorted(Path(__file__).parent.glob("openapi_scenarios_*.py")):
    _module = importlib.import_module(f"tests.{_path.stem}")
    SCENARIOS.update(getattr(_module, "SCENARIOS", {}))


def _operations() -> list[tuple[str, str, dict[str, Any]]]:
    return [(m.upper(), p, op) for p, ops in DOC["paths"].items() for m, op in ops.items() if m in METHODS]


def _is_public(op: dict[str, Any]) -> bool:
    return op.get("security") == []


def _route_choices() -> dict[tuple[str, str], str]:
    """(path, parameter) -> a value the route accepts, for parameters aiohttp restricts to
    alternatives ({action:take|done})."""
    from bot.config import Settings

    choices = {}
    for resource in create_app(Settings()).router.resources():
        info = resource.get_info()
        pattern = info.get("pattern")
        if pattern is None or "formatter" not in info:
            continue
        for name, alternatives in re.findall(r"\(\?P<(\w+)>([\w|\-]+)\)", pattern.pattern):
            choices[(info["formatter"], name)] = alternatives.split("|")[0]
    return choices


ROUTE_CHOICES = _route_choices()


def _concrete(path: str, value: str = MISSING_ID, op: dict[str, Any] | None = None) -> str:
    """`path` with its parameters filled: an enum's (or the route's) first allowed value
    where there is one, `value` for the others (ids)."""
    enums = {p["name"]: p.get("schema", {}).get("enum") for p in (op or {}).get("parameters", [])
             if p.get("in") == "path"}

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if enums.get(name):
            return quote(str(enums[name][0]), safe="")
        if (path, name) in ROUTE_CHOICES:
            return ROUTE_CHOICES[(path, name)]
        return quote(value, safe="")

    return re.sub(r"\{([^}]+)\}", fill, path)


def _generic(method: str, path: str, status: int, op: dict[str, Any]) -> Scenario | None:
    has_body = "requestBody" in op

    async def token_for(h: Harness, client: TestClient) -> str | None:
        return None if _is_public(op) else await h.login(client)

    if status == 401 and not _is_public(op):
        return lambda h: _without_token(h, method, _concrete(path, op=op))
    if status == 429:
        async def limited(h: Harness) -> int:
            client = await h.client(rate_api_per_minute=1, rate_login_per_minute=1)
            token = await token_for(h, client)  # the login uses the IP's one login
            # use up the minute's one request (per resident; public routes: per IP and bucket)
            if token is None:
                await h.call(client, method, _concrete(path, op=op), None, json={})
            else:
                await h.call(client, "GET", "/api/v1/me", token)
            return await h.call(client, method, _concrete(path, op=op), token, json={})
        return limited
    query_params = [p for p in op.get("parameters", []) if p.get("in") == "query"]
    if status == 400 and (has_body or query_params or "{" in path):
        async def bad_input(h: Harness) -> int:
            """Bad JSON, then each query parameter with bad values, then bad path ids."""
            client = await h.client()
            token = await token_for(h, client)
            got = 0
            if has_body:
                got = await h.call(client, method, _concrete(path, op=op), token, data=b"{not json",
                                   headers={"Content-Type": "application/json"})
            for param in query_params:
                for value in BAD_VALUES:
                    if got == 400:
                        return got
                    got = await h.call(client, method, _concrete(path, op=op), token, params={param["name"]: value})
            for value in BAD_VALUES:
                if got == 400:
                    return got
                got = await h.call(client, method, _concrete(path, value, op), token)
            return got
        return bad_input
    if status == 413 and has_body:
        async def too_large(h: Harness) -> int:
            client = await h.client(max_body_bytes=1024)
            return await h.call(client, method, _concrete(path, op=op), await token_for(h, client), data=b"{" + b" " * 4096,
                                headers={"Content-Type": "application/json"})
        return too_large
    if status == 404 and "{" in path:
        async def missing(h: Harness) -> int:
            client = await h.client()
            token = await token_for(h, client)
            got = 0
            for value in MISSING_IDS:
                got = await h.call(client, method, _concrete(path, value, op), token, json={})
                if got == 404:
                    break
            return got
        return missing
    return None


async def _without_token(h: Harness, method: str, path: str) -> int:
    return await h.call(await h.client(), method, path)


RESPONSES = [(m, p, int(code), op) for m, p, op in _operations() for code in op["responses"]]


def _resolve(ref: str) -> Any:
    node: Any = DOC
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    return node


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_document_is_well_formed():
    assert DOC["openapi"].startswith("3.0") and DOC["info"]["title"] and DOC["paths"]
    assert DOC["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for ref in _refs(DOC):
        assert _resolve(ref) is not None, ref
    ids = [op["operationId"] for _, _, op in _operations()]
    assert len(ids) == len(set(ids)), "operationIds must be unique"
    for method, path, op in _operations():
        assert path.startswith("/api/v1/"), path
        assert op["responses"] and op.get("summary"), (method, path)
        for param in re.findall(r"\{([^}]+)\}", path):  # path parameters are declared
            declared = [p for p in op.get("parameters", []) if p.get("in") == "path"]
            assert param in [p["name"] for p in declared], (method, path, param)


def _routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or ""
        path = re.sub(r"\{([^}:]+)(:[^}]*)?\}", r"{\1}", path)  # drop aiohttp's {id:regex}
        if path.startswith("/api/v1/") and route.method != "HEAD":
            found.add((route.method, path))
    return found


def test_documented_routes_exist_and_every_route_is_documented(settings):
    app = create_app(settings)
    routes = _routes(app)
    documented = {(m, p) for m, p, _ in _operations()}
    assert documented - routes == set(), "documented but not routed"
    assert routes - documented == set(), "routed but not documented"


def test_every_documented_code_has_a_way_to_produce_it():
    missing = [(m, p, c) for m, p, c, op in RESPONSES if (m, p, c) not in SCENARIOS and not _generic(m, p, c, op)]
    assert not missing, f"add a scenario for: {missing}"
    stale = set(SCENARIOS) - {(m, p, c) for m, p, c, _ in RESPONSES}
    assert not stale, f"scenarios for undocumented responses: {stale}"


@pytest.mark.parametrize("method,path,status,op", RESPONSES, ids=[f"{m} {p} {c}" for m, p, c, _ in RESPONSES])
async def test_documented_response_is_produced(make_client, fake_mp, db, method, path, status, op):
    await seed_places(db)
    scenario = SCENARIOS.get((method, path, status)) or _generic(method, path, status, op)
    if scenario is None:
        pytest.fail(f"no scenario for {method} {path} {status}")
    assert await scenario(Harness(make_client, fake_mp, db)) == status


async def test_served_document_is_the_built_one(make_client):
    client = await make_client()
    resp = await client.get("/api/v1/openapi.json")
    assert resp.status == 200 and resp.content_type == "application/json"
    assert await resp.json() == build_document()
