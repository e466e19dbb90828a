"""Console: 找人工 callback requests of the staff member's scope.

The list shows open requests first (who, when, why: asked, or the bot did not understand);
a request shows the conversation so far, the phone number (masked for grid workers)
and lets staff mark it handled with a note. A reply typed for a resident who left no
phone number is sent to them (WeChat customer-service message, or a notice in the
mini-program). Every change is audited.
"""
from __future__ import annotations

import logging

import aiohttp_jinja2
from aiohttp import web

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.common import community_names, scope_of
from storage.callbacks import DONE, OPEN, REASON_NAMES, STATUS_NAMES

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
NAV = [{"href": f"{PREFIX}/callbacks", "title": "找人工", "roles": ()}]
MAX_NOTE = 500


@routes.get(f"{PREFIX}/callbacks")
@staff_required()
async def callbacks_list(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", OPEN)
    if status not in (OPEN, DONE, "all"):
        raise web.HTTPBadRequest()
    scope = await scope_of(request)
    items = await request.config_dict[keys.CALLBACKS].list(scope, None if status == "all" else status)
    return aiohttp_jinja2.render_template("callbacks/list.html", request, {
        "items": items, "status": status, "communities": await community_names(request),
        "status_names": STATUS_NAMES, "reason_names": REASON_NAMES,
    })


async def _page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    scope = await scope_of(request)
    item = await request.config_dict[keys.CALLBACKS].get(request.match_info["callback_id"][:64], scope)
    if item is None:  # missing or outside the scope: the same answer
        raise web.HTTPNotFound()
    return aiohttp_jinja2.render_template("callbacks/detail.html", request, {
        "item": item, "communities": await community_names(request), "status_names": STATUS_NAMES,
        "reason_names": REASON_NAMES, "error": error,
    }, status=status)


@routes.get(f"{PREFIX}/callbacks/{{callback_id}}")
@staff_required()
async def callback_detail(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@routes.post(f"{PREFIX}/callbacks/{{callback_id}}")
@staff_required()
async def callback_done(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    form = await request.post()
    note = str(form.get("note", "")).strip()
    reply = str(form.get("reply", "")).strip()
    if not note and not reply:
        return await _page(request, "请写一下处理情况", status=400)
    if len(note) > MAX_NOTE or len(reply) > MAX_NOTE:
        return await _page(request, f"处理情况和回复各不超过{MAX_NOTE}字", status=400)
    scope = await scope_of(request)
    repo = request.config_dict[keys.CALLBACKS]
    before = await repo.get(request.match_info["callback_id"][:64], scope)
    if before is None:
        raise web.HTTPNotFound()
    after = await repo.close(before.id, scope, {"id": staff.id, "name": staff.name}, note or f"已回复：{reply}")
    if after is None:
        return await _page(request, "这条请求已经处理过了", status=409)
    if reply:
        try:
            await request.config_dict[keys.NOTIFIER].notify(
                text=f"社区工作人员回复您（{after.code}）：{reply}", user_key=after.user_key,
                resident_id=after.resident_id, ref=f"callback:{after.id}",
            )
        except Exception:  # the request stays handled; the reply is in the note
            log.exception("could not send the reply of callback %s", after.id)
    await request.config_dict[keys.AUDIT].record(
        staff, "callback.done", "callbacks", after.id, {"status": before.status, "community": before.community},
        {"status": after.status, "note": after.note, "reply": bool(reply), "community": after.community},
        resident_id=after.resident_id,
    )
    raise web.HTTPFound(f"{PREFIX}/callbacks/{after.id}")
