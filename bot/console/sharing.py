"""Console: 共享社区 moderation. Staff see the posts, help requests and loans of their
scope, hide or show reported content (with a reason, audited), and street admins /
sysadmins keep the content-check word list."""
from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.common import scope_of
from storage.staff import STREET_ADMIN, SYSADMIN

routes = web.RouteTableDef()
NAV = [{"href": f"{PREFIX}/sharing", "title": "邻里共享", "roles": ()}]
WORD_ROLES = (STREET_ADMIN, SYSADMIN)  # the word list applies to every community


def _text(form: Any, name: str, max_len: int) -> str:
    return str(form.get(name, "")).strip()[:max_len]


async def _page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    staff = request[STAFF]
    sharing = request.config_dict[keys.SHARING]
    scope = await scope_of(request)
    show = request.query.get("show", "reported")
    reported = show == "reported"
    posts = await sharing.posts_in_scope(scope, reported_only=reported)
    helps = await sharing.helps_in_scope(scope, reported_only=reported)
    loans = await sharing.loans_in_scope(scope, limit=50)
    return aiohttp_jinja2.render_template("sharing/index.html", request, {
        "posts": posts, "helps": helps, "loans": loans, "show": show, "error": error,
        "can_edit_words": staff.role in WORD_ROLES,
    }, status=status)


@routes.get(f"{PREFIX}/sharing")
@staff_required()
async def sharing_index(request: web.Request) -> web.StreamResponse:
    return await _page(request)


@routes.post(f"{PREFIX}/sharing/{{kind:post|help}}/{{record_id}}/{{action:hide|show}}")
@staff_required()
async def moderate(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    kind, record_id, action = request.match_info["kind"], request.match_info["record_id"], request.match_info["action"]
    form = await request.post()
    reason = _text(form, "reason", 100)
    if action == "hide" and not reason:
        return await _page(request, error="请填写隐藏原因（会记录在审计日志里）", status=400)
    sharing = request.config_dict[keys.SHARING]
    scope = await scope_of(request)
    before = await sharing.set_hidden(kind, record_id, action == "hide", reason or None, staff.id, scope)
    if before is None:  # missing or outside the scope
        raise web.HTTPNotFound()
    collection = "help_requests" if kind == "help" else "share_posts"
    await request.config_dict[keys.AUDIT].record(
        staff, f"sharing.{kind}.{action}", collection, record_id,
        {"hidden": before.get("hidden"), "community": before["community"]},
        {"hidden": action == "hide", "reason": reason, "community": before["community"]},
    )
    raise web.HTTPFound(f"{PREFIX}/sharing?show={request.query.get('show', 'reported')}")


@routes.get(f"{PREFIX}/sharing/words")
@staff_required()
async def words_page(request: web.Request, error: str | None = None, status: int = 200) -> web.StreamResponse:
    checker = request.config_dict[keys.SHARING].checker
    return aiohttp_jinja2.render_template("sharing/words.html", request, {
        "words": await checker.all_words(), "can_edit": request[STAFF].role in WORD_ROLES, "error": error,
    }, status=status)


@routes.post(f"{PREFIX}/sharing/words")
@staff_required(*WORD_ROLES)
async def words_update(request: web.Request) -> web.StreamResponse:
    staff = request[STAFF]
    form = await request.post()
    word, reason, action = _text(form, "word", 20), _text(form, "reason", 30), _text(form, "action", 10)
    if not word:
        return await words_page(request, error="请填写词语", status=400)
    checker = request.config_dict[keys.SHARING].checker
    if action == "remove":
        await checker.remove_word(word)
    else:
        await checker.add_word(word, reason or "不适合发布", staff.id)
    await request.config_dict[keys.AUDIT].record(
        staff, f"content_words.{'remove' if action == 'remove' else 'add'}", "content_words", word, None,
        {"word": word, "reason": reason}, community=None,
    )
    raise web.HTTPFound(f"{PREFIX}/sharing/words")
