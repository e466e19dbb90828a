"""The staff web console under /console (server-rendered, Chinese).

Each module listed in `CONSOLE_MODULES` exposes `routes: web.RouteTableDef` (full paths,
"/console/...") and optionally `NAV`: a list of {"href", "title", "roles"} entries for the
navigation bar (roles: who sees the entry; empty = every staff member). Capabilities
append their module ("bot.console.reports") to `CONSOLE_MODULES`.

A console page reads the form, calls the service that holds the rules, renders:
    @routes.get("/console/things")
    @staff_required()                       # or staff_required(*ADMIN_ROLES)
    async def things(request):
        scope = await scope_of(request)     # bot/console/common.py: the staff member's scope
        items = await request.config_dict[keys.THINGS].in_scope(scope)
        return aiohttp_jinja2.render_template("things.html", request, {"items": items})
A refusal the service raises (domain.errors) becomes the error page with its status.
Templates extend "base.html" (blocks `title` and `content`), get `staff`, `csrf_token`
and `nav` from the context processor, show contact details with `|phone` / `|address`
(masked for roles that do not need them; any other printed text is masked for them too,
see bot/privacy.py), and every POST form includes
    <input type="hidden" name="_csrf" value="{{ csrf_token }}">
Every staff change goes to the audit trail (keys.AUDIT's `record(staff, action, ...)`; the
services of bot/console/admin.py's pages record their own).
"""
from __future__ import annotations

import importlib
import json
from pathlib import Path
from types import ModuleType
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web

from bot.api import relative_routes
from bot.console.common import cst
from bot.privacy import console_finalize, register_filters

PREFIX = "/console"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

CONSOLE_MODULES: list[str] = [
    "bot.console.auth",
    "bot.console.admin",
    "bot.console.sharing",
    "bot.console.points",
    "bot.console.stations",
    "bot.console.faq",
    "bot.console.callbacks",
    "bot.console.reports",
    "bot.console.bookings",
    "bot.console.maps",
]


def _pretty_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=1, default=str)


def console_modules() -> list[ModuleType]:
    return [importlib.import_module(name) for name in CONSOLE_MODULES]


def setup_templates(app: web.Application) -> jinja2.Environment:
    """The one template environment, on `app` so that /chat renders with it too
    (sub-apps find it through `request.config_dict`)."""
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        autoescape=True,
        finalize=console_finalize,  # free text masked for staff without the right (bot/privacy.py)
    )
    register_filters(env)
    env.filters["pretty_json"] = _pretty_json
    env.filters["cst"] = cst  # times in Asia/Shanghai
    return env


def create_console() -> web.Application:
    """The /console sub-app: its routes, navigation and middlewares, in this order:
    the photo form's body limit (before anything reads the form), session + CSRF + the
    HTML error pages, then the templates' context processor (it reads the session)."""
    from bot.console.auth import NAV_KEY, console_context, console_middleware
    from bot.console.reports import photo_upload_middleware

    console = web.Application(middlewares=[
        photo_upload_middleware, console_middleware, aiohttp_jinja2.context_processors_middleware,
    ])
    console[aiohttp_jinja2.APP_CONTEXT_PROCESSORS_KEY] = [console_context]
    nav = []
    for module in console_modules():
        console.add_routes(relative_routes(module.routes, PREFIX))
        for item in getattr(module, "NAV", []):
            nav.append({"href": item["href"], "title": item["title"], "roles": tuple(item.get("roles", ()))})
    console[NAV_KEY] = nav
    return console


def setup_console(app: web.Application) -> None:
    """Templates (also for /chat) and the /console sub-app (its session store and login
    lock come from the composition root, bot/bootstrap.py)."""
    setup_templates(app)
    app.add_subapp(PREFIX, create_console())
