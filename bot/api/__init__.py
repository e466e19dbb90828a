"""The mini-program API under /api/v1.

Each module listed in `API_MODULES` exposes `routes: web.RouteTableDef` with full paths
("/api/v1/..."); each handler declares its operation with `@op(...)` (bot.api.spec) and
reads and answers pydantic models (bot.api.models), from which `/api/v1/openapi.json` is
written (bot.api.openapi). Capabilities append their module ("bot.api.reports") to
`API_MODULES`; bot/api/subapp.py mounts them as the /api/v1 sub-app.

Every route needs `Authorization: Bearer <token>` (from POST /api/v1/auth/login) unless
its handler is marked `@public` (bot.api.auth); the handler then finds the resident with
`current_resident(request)`. Per-resident rate limits apply to every route (per IP for
public ones).
"""
from __future__ import annotations

import importlib
import json
from datetime import date, datetime
from types import ModuleType
from typing import Any

from aiohttp import web
from pydantic import BaseModel

PREFIX = "/api/v1"

API_MODULES: list[str] = [
    "bot.api.auth",
    "bot.api.openapi",
    "bot.api.catalog",
    "bot.api.profile",
    "bot.api.sharing",
    "bot.api.points",
    "bot.api.reports",
    "bot.api.stations",
    "bot.api.bookings",
    "bot.api.chat",
]


def api_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in API_MODULES]


def relative_routes(routes: web.RouteTableDef, prefix: str) -> list[web.RouteDef]:
    """`routes` (full paths, as modules declare them) without `prefix`, for a sub-app mounted there."""
    out = []
    for route in routes:
        assert isinstance(route, web.RouteDef) and (route.path + "/").startswith(prefix + "/"), route
        out.append(web.RouteDef(route.method, route.path[len(prefix):], route.handler, route.kwargs))
    return out


def _default(value: Any) -> Any:
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)  # ObjectId, Decimal128, ...


def dumps(data: Any) -> str:
    if isinstance(data, BaseModel):
        data = data.dict()
    return json.dumps(data, ensure_ascii=False, default=_default)


def json_response(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """JSON with Chinese left readable; datetimes as ISO-8601."""
    return web.json_response(data, status=status, headers=headers, dumps=dumps)
