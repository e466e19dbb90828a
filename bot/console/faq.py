"""Console: the community FAQ residents' rule questions are answered from (社区问答).

GET  /console/faq                    entries of the staff member's scope, and a try-out:
                                     "a resident asks …" -> which entry answers, with scores
GET  /console/faq/new, POST          a new entry (editors)
GET  /console/faq/{id}, POST         view (everyone in scope) / edit (editors)
POST /console/faq/{id}/delete        remove (editors)

Community admins edit their own community's entries and sysadmins every community's; street
admins see their street's and grid workers their community's, read only. Everything goes
through `FaqService` (its editor's methods, scoped by `storage.scope`: an entry outside the
scope is a 404), every POST carries the CSRF token (the console middleware) and every change
is audited with before/after.
"""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.common import communities_in_scope, scope_of
from domain.errors import InvalidError
from services.faq import FaqService
from storage.faq import COLLECTION, MAX_ANSWER, MAX_QUESTION, FaqEntry, snapshot
from storage.staff import COMMUNITY_ADMIN, SYSADMIN, Staff

routes = web.RouteTableDef()
NAV = [{"href": f"{PREFIX}/faq", "title": "社区问答", "roles": ()}]
EDITORS = (COMMUNITY_ADMIN, SYSADMIN)
TRY_SHOWN = 3


def _service(request: web.Request) -> FaqService:
    return request.config_dict[keys.FAQ]


def _can_edit(staff: Staff) -> bool:
    return staff.role in EDITORS


def _form(form: Any) -> dict[str, str]:
    return {name: str(form.get(name, "")).strip()[:limit]
            for name, limit in (("question", MAX_QUESTION + 20), ("answer", MAX_ANSWER + 50),
                                ("keywords", 300), ("community", 64))}


async def _scoped_doc(request: web.Request) -> tuple[dict[str, Any], dict[str, Any]]:
    scope = await scope_of(request)
    return await _service(request).entry_doc(request.match_info["entry_id"][:80], scope), scope


async def _edit_page(request: web.Request, entry: FaqEntry | None, values: dict[str, Any],
                     error: str | None = None, status: int = 200) -> web.Response:
    communities = await communities_in_scope(request)
    return aiohttp_jinja2.render_template("faq/edit.html", request, {
        "entry": entry, "values": values, "error": error, "communities": communities,
        "names": dict(communities), "can_edit": _can_edit(request[STAFF]),
        "max_question": MAX_QUESTION, "max_answer": MAX_ANSWER,
    }, status=status)


@routes.get(f"{PREFIX}/faq")
@staff_required()
async def faq_list(request: web.Request) -> web.StreamResponse:
    staff: Staff = request[STAFF]
    scope = await scope_of(request)
    communities = await communities_in_scope(request)
    service = _service(request)
    entries = await service.entries_in_scope(scope)
    asked = request.query.get("q", "").strip()[:100]
    chosen = request.query.get("community", "")
    if chosen not in dict(communities):
        chosen = staff.community if staff.community in dict(communities) else (communities[0][0] if communities else "")
    tried = []
    if asked and chosen:
        tried = (await service.ranked(chosen, asked))[:TRY_SHOWN]
    return aiohttp_jinja2.render_template("faq/list.html", request, {
        "entries": entries, "communities": communities, "names": dict(communities), "can_edit": _can_edit(staff),
        "asked": asked, "chosen": chosen, "tried": tried, "threshold": service.threshold,
    })


@routes.get(f"{PREFIX}/faq/new")
@staff_required(*EDITORS)
async def faq_new(request: web.Request) -> web.StreamResponse:
    return await _edit_page(request, None, {"community": request[STAFF].community or ""})


@routes.post(f"{PREFIX}/faq/new")
@staff_required(*EDITORS)
async def faq_create(request: web.Request) -> web.StreamResponse:
    staff: Staff = request[STAFF]
    service = _service(request)
    values = _form(await request.post())
    values["community"] = service.entry_community(staff, values["community"])
    choices = dict(await communities_in_scope(request))
    scope = await scope_of(request)
    try:
        doc = await service.create_entry(scope, choices, community=values["community"],
                                         question=values["question"], answer=values["answer"],
                                         keywords=values["keywords"], staff_name=staff.name or staff.username)
    except InvalidError as exc:
        return await _edit_page(request, None, values, exc.zh, status=400)
    await request.config_dict[keys.AUDIT].record(staff, "faq.create", COLLECTION, doc["_id"], None,
                                                  snapshot(doc), ip=request.remote)
    raise web.HTTPFound(f"{PREFIX}/faq/{doc['_id']}")


@routes.get(f"{PREFIX}/faq/{{entry_id}}")
@staff_required()
async def faq_detail(request: web.Request) -> web.StreamResponse:
    doc, _ = await _scoped_doc(request)
    entry = FaqEntry.from_doc(doc)
    return await _edit_page(request, entry, {"question": entry.question, "answer": entry.answer,
                                             "keywords": "、".join(entry.keywords), "community": entry.community})


@routes.post(f"{PREFIX}/faq/{{entry_id}}")
@staff_required(*EDITORS)
async def faq_update(request: web.Request) -> web.StreamResponse:
    staff: Staff = request[STAFF]
    before, scope = await _scoped_doc(request)
    values = {**_form(await request.post()), "community": before["community"]}
    try:
        after = await _service(request).update_entry(before["_id"], scope, question=values["question"],
                                                     answer=values["answer"], keywords=values["keywords"],
                                                     staff_name=staff.name or staff.username)
    except InvalidError as exc:
        return await _edit_page(request, FaqEntry.from_doc(before), values, exc.zh, status=400)
    await request.config_dict[keys.AUDIT].record(staff, "faq.update", COLLECTION, before["_id"],
                                                  snapshot(before), snapshot(after), ip=request.remote)
    raise web.HTTPFound(f"{PREFIX}/faq/{before['_id']}")


@routes.post(f"{PREFIX}/faq/{{entry_id}}/delete")
@staff_required(*EDITORS)
async def faq_delete(request: web.Request) -> web.StreamResponse:
    staff: Staff = request[STAFF]
    before, scope = await _scoped_doc(request)
    await _service(request).delete_entry(before["_id"], scope)
    await request.config_dict[keys.AUDIT].record(staff, "faq.delete", COLLECTION, before["_id"],
                                                  snapshot(before), None, ip=request.remote)
    raise web.HTTPFound(f"{PREFIX}/faq")
