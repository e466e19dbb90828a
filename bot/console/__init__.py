"""The staff web console under /console (server-rendered, Chinese).

Each module listed in `CONSOLE_MODULES` exposes `routes: web.RouteTableDef` (full paths,
"/console/...") and optionally `NAV`: a list of {"href", "title", "roles"} entries for the
navigation bar (roles: who sees the entry; empty = every staff member). Capabilities
append their module ("bot.console.reports") to `CONSOLE_MODULES`.

A console page:
    @routes.get("/console/things")
    @staff_required()                       # or staff_required(*ADMIN_ROLES)
    async def things(request):
        staff = request[STAFF]
        col = await Scoped.for_staff(request.app[keys.MONGO], staff, "things")
        items = await col.find({}).to_list(100)  # only the staff member's scope
        return aiohttp_jinja2.render_template("things.html", request, {"items": items})
Templates extend "base.html" (blocks `title` and `content`), get `staff`, `csrf_token`
and `nav` from the context processor, show contact details with `|phone` / `|address`
(masked for roles that do not need them; any other printed text is masked for them too,
see bot/privacy.py), and every POST form includes
    <input type="hidden" name="_csrf" value="{{ csrf_token }}">
Every staff change goes to the audit trail: AuditLog(db).record(staff, action, ...).
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

from bot.console.common import cst
from bot.privacy import console_finalize, register_filters

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


def setup_console(app: web.Application) -> None:
    """Templates, console routes, session/CSRF middleware (call after the storage context)."""
    from bot.console.auth import NAV_KEY, console_context, console_middleware, console_storage

    nav = []
    for module in console_modules():
        app.add_routes(module.routes)
        for item in getattr(module, "NAV", []):
            nav.append({"href": item["href"], "title": item["title"], "roles": tuple(item.get("roles", ()))})
    app[NAV_KEY] = nav
    # Our middleware first: it loads the session the context processor reads.
    app.middlewares.append(console_middleware)
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        context_processors=[console_context],
        autoescape=True,
        finalize=console_finalize,  # free text masked for staff without the right (bot/privacy.py)
    )
    register_filters(env)
    env.filters["pretty_json"] = _pretty_json
    env.filters["cst"] = cst  # times in Asia/Shanghai
    app.cleanup_ctx.append(console_storage)
