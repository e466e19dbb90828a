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
from domain.errors import ConflictError, InvalidError
from services.handoff import HandoffService
from storage.callbacks import OPEN, REASON_NAMES, STATUS_NAMES

log = logging.getLogger(__name__)
routes = web.RouteTableDef()
NAV = [{"href": f"{PREFIX}/callbacks", "title": "找人工", "roles": ()}]


def _service(request: web.Request) -> HandoffService:
    return request.config_dict[keys.HANDOFF]


@routes.get(f"{PREFIX}/callbacks")
@staff_required()
async def callbacks_list(request: web.Request) -> web.StreamResponse:
    status = request.query.get("status", OPEN)
    items = await _service(request).callbacks_in_scope(await scope_of(request), status)
    return aiohttp_jinja2.render_template("callbacks/list.html", request, {
        "items": items, "status": status, "communities": await community_names(request),
        "status_names": STATUS_NAMES, "reason_names": REASON_NAMES,
    })


async def _page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    item = await _service(request).callback(request.match_info["callback_id"][:64], await scope_of(request))
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
    reply = str(form.get("reply", "")).strip()
    callback_id, scope = request.match_info["callback_id"][:64], await scope_of(request)
    try:
        before, after = await _service(request).mark_done(
            callback_id, scope, {"id": staff.id, "name": staff.name}, str(form.get("note", "")), reply,
        )
    except (InvalidError, ConflictError) as exc:  # the page again, saying why
        return await _page(request, exc.zh, status=exc.status)
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
