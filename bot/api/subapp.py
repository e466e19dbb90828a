"""The /api/v1 sub-app: every module of `API_MODULES`, the token / rate-limit middleware
and private caching (kept apart from bot/api/__init__.py, which its modules import)."""
from __future__ import annotations

from aiohttp import web

from bot.api import PREFIX, api_modules, relative_routes
from bot.api.auth import api_middleware, private_responses


def create_api() -> web.Application:
    """The /api/v1 sub-app: its routes and its token / rate-limit middleware. Shared state
    (settings, storage, services) is read from the parent through `request.config_dict`."""
    api = web.Application(middlewares=[api_middleware])
    for module in api_modules():
        api.add_routes(relative_routes(module.routes, PREFIX))
    api.on_response_prepare.append(private_responses)
    return api


def setup_api(app: web.Application) -> None:
    """Mount the API under /api/v1 (its session store and login client come from the
    composition root, bot/bootstrap.py)."""
    app.add_subapp(PREFIX, create_api())
