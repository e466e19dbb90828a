"""Console pages every deployment has: home, residents (masked per role), staff accounts
and the audit log. They double as the example of a console page (see bot.console): read
the form, call the service (services/resident_desk.py, services/staff_accounts.py, which
hold the rules and the audit records), render."""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.common import community_names, Page, scope_of
from bot.console.todo import todo_items
from bot.privacy import can_see_contact
from domain.errors import InvalidError
from storage.staff import ADMIN_ROLES, Staff

routes = web.RouteTableDef()
NAV = [
    {"href": f"{PREFIX}/", "title": "首页", "roles": ()},
    {"href": f"{PREFIX}/residents", "title": "居民", "roles": ()},
    {"href": f"{PREFIX}/staff", "title": "工作人员", "roles": ADMIN_ROLES},
    {"href": f"{PREFIX}/audit", "title": "审计日志", "roles": ADMIN_ROLES},
]
PAGE_SIZE = 200
RESIDENTS_PAGE_SIZE = 20


def _form_value(form: Any, name: str, max_len: int = 64) -> str:
    return str(form.get(name, "")).strip()[:max_len]


# -- home ---------------------------------------------------------------------------

@routes.get(PREFIX)
async def console_root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(f"{PREFIX}/")


@routes.get(f"{PREFIX}/")
@staff_required()
async def home(request: web.Request) -> web.StreamResponse:
    staff: Staff = request[STAFF]
    scope = await scope_of(request)
    count = await request.config_dict[keys.RESIDENT_DESK].count(scope)
    names = await community_names(request)
    todo = await todo_items(request.config_dict[keys.DASHBOARDS], scope, request.config_dict[keys.REPORTS].clock())
    return aiohttp_jinja2.render_template("index.html", request, {
        "resident_count": count, "community_name": names.get(staff.community or ""), "todo": todo,
    })


# -- residents ----------------------------------------------------------------------

@routes.get(f"{PREFIX}/residents")
@staff_required()
async def residents_list(request: web.Request) -> web.StreamResponse:
    """Words match the name or the resident id; for staff who may see contact details also
    the phone number and the address."""
    desk, scope = request.config_dict[keys.RESIDENT_DESK], await scope_of(request)
    words, contact = request.query.get("q", "").strip()[:40], can_see_contact(request[STAFF])
    total = await desk.count(scope, words, contact=contact)
    page = Page.of({"q": words, "page": request.query.get("page", "1")}, total, f"{PREFIX}/residents",
                   RESIDENTS_PAGE_SIZE)
    docs = await desk.search(scope, words, contact=contact, skip=page.skip, limit=page.size)
    return aiohttp_jinja2.render_template("residents.html", request, {
        "residents": docs, "communities": await community_names(request), "q": words, "page": page,
    })


async def _resident_page(request: web.Request, doc: dict[str, Any], error: str | None = None,
                         status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template("resident.html", request, {
        "resident": doc, "communities": await community_names(request), "error": error,
        "verified": request.config_dict[keys.RESIDENT_DESK].facts_verified(doc),
    }, status=status)


@routes.get(f"{PREFIX}/residents/{{resident_id}}")
@staff_required()
async def resident_detail(request: web.Request) -> web.StreamResponse:
    desk, scope = request.config_dict[keys.RESIDENT_DESK], await scope_of(request)
    return await _resident_page(request, await desk.get(request.match_info["resident_id"], scope))


@routes.post(f"{PREFIX}/residents/{{resident_id}}/verify")
@staff_required()
async def resident_verify(request: web.Request) -> web.StreamResponse:
    """Staff checked the documents: the resident's facts are verified (ResidentDesk.verify_facts)."""
    desk, resident_id = request.config_dict[keys.RESIDENT_DESK], request.match_info["resident_id"]
    await desk.verify_facts(request[STAFF], await scope_of(request), resident_id)
    raise web.HTTPFound(f"{PREFIX}/residents/{resident_id}")


@routes.post(f"{PREFIX}/residents/{{resident_id}}")
@staff_required(*ADMIN_ROLES)
async def resident_update(request: web.Request) -> web.StreamResponse:
    """Correct a resident's phone / building on their behalf (e.g. at the service desk)."""
    desk, scope = request.config_dict[keys.RESIDENT_DESK], await scope_of(request)
    resident_id = request.match_info["resident_id"]
    form = await request.post()
    try:
        await desk.correct_contact(request[STAFF], scope, resident_id, phone=_form_value(form, "phone", 20),
                                   building=_form_value(form, "building"))
    except InvalidError as exc:  # the form again, saying what to fix
        return await _resident_page(request, await desk.get(resident_id, scope), exc.zh, exc.status)
    raise web.HTTPFound(f"{PREFIX}/residents/{resident_id}")


# -- staff accounts -----------------------------------------------------------------

async def _staff_form(request: web.Request, error: str | None = None, values: dict[str, str] | None = None,
                      status: int = 200) -> web.Response:
    choices = await request.config_dict[keys.ACCOUNTS].choices(request[STAFF], await scope_of(request))
    return aiohttp_jinja2.render_template("staff_new.html", request, {
        "roles": choices.roles, "communities": choices.communities, "streets": choices.streets,
        "error": error, "values": values or {},
    }, status=status)


@routes.get(f"{PREFIX}/staff")
@staff_required(*ADMIN_ROLES)
async def staff_list(request: web.Request) -> web.StreamResponse:
    accounts = request.config_dict[keys.ACCOUNTS]
    members, locks = await accounts.members(await scope_of(request))
    return aiohttp_jinja2.render_template("staff_list.html", request, {
        "members": members, "communities": await community_names(request), "locks": locks,
        "may_set_active": accounts.may_set_active, "may_unlock": accounts.may_unlock,  # which buttons
    })


@routes.get(f"{PREFIX}/staff/new")
@staff_required(*ADMIN_ROLES)
async def staff_new(request: web.Request) -> web.StreamResponse:
    return await _staff_form(request)


@routes.post(f"{PREFIX}/staff")
@staff_required(*ADMIN_ROLES)
async def staff_create(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    values = {k: _form_value(form, k) for k in ("username", "name", "role", "community", "street")}
    try:
        await request.config_dict[keys.ACCOUNTS].create(
            request[STAFF], await scope_of(request), username=values["username"],
            password=str(form.get("password", ""))[:256], name=values["name"], role=values["role"],
            community=values["community"], street=values["street"],
        )
    except InvalidError as exc:  # the form again, as filled in, saying what to fix
        return await _staff_form(request, exc.zh, values, exc.status)
    raise web.HTTPFound(f"{PREFIX}/staff")


@routes.post(f"{PREFIX}/staff/{{staff_id}}/active")
@staff_required(*ADMIN_ROLES)
async def staff_set_active(request: web.Request) -> web.StreamResponse:
    active = str((await request.post()).get("active", "")) == "1"
    await request.config_dict[keys.ACCOUNTS].set_active(
        request[STAFF], await scope_of(request), request.match_info["staff_id"], active)
    raise web.HTTPFound(f"{PREFIX}/staff")


@routes.post(f"{PREFIX}/staff/{{staff_id}}/unlock")
@staff_required(*ADMIN_ROLES)
async def staff_unlock(request: web.Request) -> web.StreamResponse:
    """Lift the login locks on an account (after checking with its owner)."""
    await request.config_dict[keys.ACCOUNTS].unlock(
        request[STAFF], await scope_of(request), request.match_info["staff_id"], ip=request.remote)
    raise web.HTTPFound(f"{PREFIX}/staff")


# -- audit log ----------------------------------------------------------------------

AUDIT_FILTERS = ("action", "collection", "record_id")


@routes.get(f"{PREFIX}/audit")
@staff_required(*ADMIN_ROLES)
async def audit_log(request: web.Request) -> web.StreamResponse:
    filters = {k: request.query[k].strip()[:64] for k in AUDIT_FILTERS if request.query.get(k, "").strip()}
    entries = await request.config_dict[keys.AUDIT].list(await scope_of(request), limit=PAGE_SIZE, **filters)
    return aiohttp_jinja2.render_template(
        "audit.html", request, {"entries": entries, "filters": filters, "communities": await community_names(request)}
    )

