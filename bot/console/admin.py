"""Console pages every deployment has: home, residents (masked per role), staff accounts
and the audit log. They double as the example of a console page (see bot.console)."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from pymongo import ReturnDocument

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.common import community_names, Page, scope_of
from bot.console.todo import todo_items
from bot.privacy import can_see_contact
from storage.residents import Resident
from storage.scope import Scoped, in_scope
from storage.staff import (
    ADMIN_ROLES, GRID_WORKER, COMMUNITY_ADMIN, ROLES, STREET_ADMIN, SYSADMIN, Staff, StaffError, can_manage,
)

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
    db = request.config_dict[keys.MONGO]
    residents = await Scoped.for_staff(db, staff, "residents")
    count = await residents.count_documents({"deleted_at": None})
    names = await community_names(request)
    scope = await scope_of(request)
    todo = await todo_items(request.config_dict[keys.DASHBOARDS], scope, request.config_dict[keys.REPORTS].clock())
    return aiohttp_jinja2.render_template("index.html", request, {
        "resident_count": count, "community_name": names.get(staff.community or ""), "todo": todo,
    })


# -- residents ----------------------------------------------------------------------

@routes.get(f"{PREFIX}/residents")
@staff_required()
async def residents_list(request: web.Request) -> web.StreamResponse:
    db = request.config_dict[keys.MONGO]
    staff: Staff = request[STAFF]
    residents = await Scoped.for_staff(db, staff, "residents")
    words = request.query.get("q", "").strip()[:40]
    query = {"deleted_at": None, **resident_search(words, can_see_contact(staff))}
    total = await residents.count_documents(query)
    page = Page.of({"q": words, "page": request.query.get("page", "1")}, total, f"{PREFIX}/residents",
                   RESIDENTS_PAGE_SIZE)
    docs = await (residents.find(query).sort([("created_at", -1), ("_id", 1)])
                  .skip(page.skip).limit(page.size).to_list(page.size))
    return aiohttp_jinja2.render_template("residents.html", request, {
        "residents": docs, "communities": await community_names(request), "q": words, "page": page,
    })


def resident_search(words: str, contact: bool) -> dict[str, Any]:
    """Words match the name or the resident id; for staff who may see contact details also
    the phone number and the address (others must not probe a number or a flat)."""
    clauses = []
    for word in words.split()[:4]:
        pattern = {"$regex": re.escape(word)}
        fields = ["name", "_id"] + (["phone", "building"] if contact else [])
        clauses.append({"$or": [{f: pattern} for f in fields]})
    return {"$and": clauses} if clauses else {}


async def _scoped_resident(request: web.Request) -> tuple[Scoped, dict[str, Any]]:
    residents = await Scoped.for_staff(request.config_dict[keys.MONGO], request[STAFF], "residents")
    doc = await residents.find_one({"_id": request.match_info["resident_id"], "deleted_at": None})
    if doc is None:  # missing or outside the staff member's scope: the same answer
        raise web.HTTPNotFound()
    return residents, doc


@routes.get(f"{PREFIX}/residents/{{resident_id}}")
@staff_required()
async def resident_detail(request: web.Request) -> web.StreamResponse:
    _, doc = await _scoped_resident(request)
    names = await community_names(request)
    return aiohttp_jinja2.render_template(
        "resident.html", request,
        {"resident": doc, "communities": names, "error": None, "verified": Resident.from_doc(doc).facts_verified},
    )


@routes.post(f"{PREFIX}/residents/{{resident_id}}/verify")
@staff_required()
async def resident_verify(request: web.Request) -> web.StreamResponse:
    """Staff checked the documents (ID card for the birth year, 残疾证): the facts that gate
    services like 老年助餐 are verified, and the resident's bookings lose their 待核实 mark."""
    _, doc = await _scoped_resident(request)
    db = request.config_dict[keys.MONGO]
    staff: Staff = request[STAFF]
    after = await request.config_dict[keys.RESIDENTS].verify_facts(doc["_id"], staff.id, datetime.now(timezone.utc))
    if after is None:  # changed meanwhile: look again
        raise web.HTTPConflict()
    await db["bookings"].update_many({"resident_id": doc["_id"], "eligibility_verified": False},
                                     {"$set": {"eligibility_verified": True}})
    facts = {"birth_year": after.birth_year, "disability": after.disability}
    await request.config_dict[keys.AUDIT].record(staff, "resident.verify", "residents", doc["_id"],
                              {"eligibility_verified": bool(doc.get("eligibility_verified"))},
                              {"eligibility_verified": True, **facts}, resident_id=doc["_id"])
    raise web.HTTPFound(f"{PREFIX}/residents/{doc['_id']}")


def _contact_snapshot(doc: dict[str, Any]) -> dict[str, Any]:
    return {"community": doc.get("community"), "phone": doc.get("phone"), "building": doc.get("building")}


@routes.post(f"{PREFIX}/residents/{{resident_id}}")
@staff_required(*ADMIN_ROLES)
async def resident_update(request: web.Request) -> web.StreamResponse:
    """Correct a resident's phone / building on their behalf (e.g. at the service desk)."""
    residents, doc = await _scoped_resident(request)
    form = await request.post()
    phone, building = _form_value(form, "phone", 20), _form_value(form, "building")
    if phone and not (len(phone) == 11 and phone.isdigit() and phone[0] == "1"):
        names = await community_names(request)
        return aiohttp_jinja2.render_template(
            "resident.html", request, {"resident": doc, "communities": names, "error": "请填写11位手机号",
                                       "verified": Resident.from_doc(doc).facts_verified}, status=400
        )
    update: dict[str, Any] = {}
    to_set = {k: v for k, v in (("phone", phone), ("building", building)) if v}
    to_unset = {k: "" for k, v in (("phone", phone), ("building", building)) if not v}
    if to_set:
        update["$set"] = to_set
    if to_unset:
        update["$unset"] = to_unset
    after = await residents.find_one_and_update({"_id": doc["_id"]}, update, return_document=ReturnDocument.AFTER)
    if after is None:
        raise web.HTTPNotFound()
    await request.config_dict[keys.AUDIT].record(
        request[STAFF], "resident.update", "residents", doc["_id"], _contact_snapshot(doc), _contact_snapshot(after),
        resident_id=doc["_id"],
    )
    raise web.HTTPFound(f"{PREFIX}/residents/{doc['_id']}")


# -- staff accounts -----------------------------------------------------------------

async def _staff_form_context(request: web.Request, error: str | None = None,
                              values: dict[str, str] | None = None) -> dict[str, Any]:
    staff: Staff = request[STAFF]
    scope = await scope_of(request)
    names = await community_names(request)
    communities = [(cid, name) for cid, name in sorted(names.items()) if in_scope(scope, cid)]
    streets = []
    if staff.role == SYSADMIN:
        streets = list((await request.config_dict[keys.COMMUNITIES].street_names()).items())
    return {
        "roles": [r for r in ROLES if can_manage(staff, r)],
        "communities": communities,
        "streets": streets,
        "error": error,
        "values": values or {},
    }


@routes.get(f"{PREFIX}/staff")
@staff_required(*ADMIN_ROLES)
async def staff_list(request: web.Request) -> web.StreamResponse:
    members = await request.config_dict[keys.STAFF_ACCOUNTS].list(await scope_of(request))
    guard = request.config_dict[keys.LOGIN_GUARD]
    locks = {m.id: await guard.locks_of(m.username) for m in members}
    return aiohttp_jinja2.render_template(
        "staff_list.html", request,
        {"members": members, "communities": await community_names(request), "can_manage": can_manage, "locks": locks},
    )


@routes.get(f"{PREFIX}/staff/new")
@staff_required(*ADMIN_ROLES)
async def staff_new(request: web.Request) -> web.StreamResponse:
    return aiohttp_jinja2.render_template("staff_new.html", request, await _staff_form_context(request))


@routes.post(f"{PREFIX}/staff")
@staff_required(*ADMIN_ROLES)
async def staff_create(request: web.Request) -> web.StreamResponse:
    actor: Staff = request[STAFF]
    form = await request.post()
    values = {k: _form_value(form, k) for k in ("username", "name", "role", "community", "street")}
    password = str(form.get("password", ""))[:256]

    async def again(error: str, status: int = 400) -> web.Response:
        context = await _staff_form_context(request, error, values)
        return aiohttp_jinja2.render_template("staff_new.html", request, context, status=status)

    role = values["role"]
    if role not in ROLES:
        return await again("请选择角色")
    if not can_manage(actor, role):
        raise web.HTTPForbidden()
    community = values["community"] if role in (GRID_WORKER, COMMUNITY_ADMIN) else None
    street = values["street"] if role == STREET_ADMIN else None
    if community is not None and not in_scope(await scope_of(request), community):
        raise web.HTTPForbidden()
    if role == STREET_ADMIN and actor.role != SYSADMIN:
        raise web.HTTPForbidden()
    try:
        created = await request.config_dict[keys.STAFF_ACCOUNTS].create(
            values["username"], password, name=values["name"], role=role, community=community, street=street
        )
    except StaffError as exc:
        return await again(str(exc))
    await request.config_dict[keys.AUDIT].record(actor, "staff.create", "staff", created.id, None, created.public())
    raise web.HTTPFound(f"{PREFIX}/staff")


async def _account_in_scope(request: web.Request) -> Staff:
    """The staff account named in the path, if it lies in the signed-in admin's scope (404 otherwise)."""
    accounts = await Scoped.for_staff(request.config_dict[keys.MONGO], request[STAFF], "staff")
    doc = await accounts.find_one({"_id": request.match_info["staff_id"]}, {"password_hash": 0})
    if doc is None:
        raise web.HTTPNotFound()
    return Staff.from_doc(doc)


@routes.post(f"{PREFIX}/staff/{{staff_id}}/active")
@staff_required(*ADMIN_ROLES)
async def staff_set_active(request: web.Request) -> web.StreamResponse:
    actor: Staff = request[STAFF]
    target = await _account_in_scope(request)
    if target.id == actor.id or not can_manage(actor, target.role):
        raise web.HTTPForbidden()
    active = str((await request.post()).get("active", "")) == "1"
    repo = request.config_dict[keys.STAFF_ACCOUNTS]
    after = await repo.set_active(target.id, active)
    if not active:
        await request.config_dict[keys.CONSOLE_SESSIONS].revoke_owner(target.id)
    await request.config_dict[keys.AUDIT].record(
        actor, "staff.activate" if active else "staff.deactivate", "staff", target.id,
        target.public(), after.public() if after else None,
    )
    raise web.HTTPFound(f"{PREFIX}/staff")


@routes.post(f"{PREFIX}/staff/{{staff_id}}/unlock")
@staff_required(*ADMIN_ROLES)
async def staff_unlock(request: web.Request) -> web.StreamResponse:
    """Lift the login locks on an account (after checking with its owner)."""
    actor: Staff = request[STAFF]
    target = await _account_in_scope(request)
    if not (actor.role == SYSADMIN or can_manage(actor, target.role)):
        raise web.HTTPForbidden()
    guard = request.config_dict[keys.LOGIN_GUARD]
    before = [lock.client for lock in await guard.locks_of(target.username)]
    lifted = await guard.unlock_user(target.username)
    await request.config_dict[keys.AUDIT].record(
        actor, "staff.unlock", "staff", target.id, {"locked_clients": before}, {"locked_clients": [], "lifted": lifted},
        ip=request.remote,
    )
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

