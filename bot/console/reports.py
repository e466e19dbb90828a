"""Console: the report dispatch board (报事派单台).

GET  /console/reports                          board of the staff member's scope, filtered
                                               by status / category / overdue
GET  /console/reports/stats                    tickets per category and median hours to resolve
GET  /console/reports/routing                  the category -> department / SLA table
POST /console/reports/routing                  edit one row (street admins, sysadmins)
GET  /console/reports/{ticket}                 one ticket: facts, reporter (masked per role),
                                               photos, history, the actions its status allows
POST /console/reports/{ticket}/{action}        dispatch / start / resolve (note, optional
                                               photo) / reject (reason) / duplicate (of, reason)
GET  /console/reports/{ticket}/photos/{index}  an uploaded photo (in scope only)

Every action goes through ReportService (its state machine; the reporter is notified)
and is written to the audit trail. Records outside the scope answer 404.
"""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDictProxy

from bot import keys
from bot.console.auth import PREFIX, STAFF, staff_required
from bot.console.charts import ECHARTS_VERSION, chart_data
from bot.console.board import BOARD_SORTS, BoardFilters
from bot.console.common import community_names, Page, scope_of
from bot.console.export import MAX_ROWS, XLSX_TYPE, report_rows, to_csv, to_xlsx
from domain.time import TZ
from services.report_rules import ACTION_LABELS, STAFF_ACTIONS, InvalidReport, ReportError, allowed_actions
from services.reports import ReportService
from services.wechat_media import media_of
from storage.photos import BadPhoto, PhotoStore
from storage.reports import STATUS_LABELS, STATUSES, Actor, Report, find_ticket
from storage.routing import CATEGORIES
from storage.staff import STREET_ADMIN, SYSADMIN, Staff

routes = web.RouteTableDef()
NAV = [
    {"href": f"{PREFIX}/reports", "title": "报事派单", "roles": ()},
    {"href": f"{PREFIX}/reports/stats", "title": "报事统计", "roles": ()},
]
ROUTING_ROLES = (STREET_ADMIN, SYSADMIN)  # one table for every community
PAGE_SIZE = 20
PERIODS = {"30": 30, "90": 90, "365": 365, "all": None}
# Upload size allowed on the resolve form beyond the photo itself.
FORM_SLACK = 64 * 1024
FLASH = {"dispatch": "已派单，居民会收到通知。", "start": "已开始处理，居民会收到通知。",
         "resolve": "已办结，已请居民确认并评价。", "reject": "已不予受理，居民会收到原因。",
         "duplicate": "已标记为重复件，居民会改为关注原工单。"}


def _service(request: web.Request) -> ReportService:
    return request.config_dict[keys.REPORTS]


def _text(form: MultiDictProxy, name: str, max_len: int) -> str:
    value = form.get(name, "")
    return value.strip()[:max_len] if isinstance(value, str) else ""


def _local(value: Any) -> str:
    return value.astimezone(TZ).strftime("%Y-%m-%d %H:%M") if value else ""


def _common() -> dict[str, Any]:
    return {"categories": CATEGORIES, "status_labels": STATUS_LABELS, "action_labels": ACTION_LABELS,
            "local": _local}


@web.middleware
async def photo_upload_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """The resolve form carries a photo: allow its size for that one route (the app's
    body limit stays small everywhere else). Must run before the console middleware,
    which reads the form for its CSRF check."""
    if (request.method == "POST" and request.path.startswith(f"{PREFIX}/reports/")
            and request.path.endswith("/resolve") and request.content_type == "multipart/form-data"):
        limit = request.config_dict[keys.SETTINGS].upload_max_bytes + FORM_SLACK
        request = request.clone(client_max_size=limit)
    return await handler(request)


# -- board ------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/reports")
@staff_required()
async def board(request: web.Request) -> web.StreamResponse:
    scope = await scope_of(request)
    filters = BoardFilters.of(request.query)
    service = _service(request)
    args = filters.board_args(service.clock())
    total = (await service.board(scope, limit=1, **args))[1]
    page = Page.of({**filters.form(), "page": request.query.get("page", "1")}, total, f"{PREFIX}/reports", PAGE_SIZE)
    reports, total = await service.board(scope, limit=PAGE_SIZE, skip=page.skip, sort=filters.order, **args)
    return aiohttp_jinja2.render_template("reports/board.html", request, {
        **_common(), "reports": reports, "total": total, "page": page, "filters": filters.form(),
        "sorts": {k: v[0] for k, v in BOARD_SORTS.items()},
        "statuses": STATUSES, "communities": await community_names(request),
        "now": service.clock(),
    })


@routes.get(f"{PREFIX}/reports/export.csv")
@staff_required()
async def export_csv(request: web.Request) -> web.StreamResponse:
    """The board's tickets (same filters) as CSV, masked per role, audited."""
    return await _export(request, "csv")


@routes.get(f"{PREFIX}/reports/export.xlsx")
@staff_required()
async def export_xlsx(request: web.Request) -> web.StreamResponse:
    """The board's tickets (same filters) as an Excel workbook, masked per role, audited."""
    return await _export(request, "xlsx")


async def _export(request: web.Request, fmt: str) -> web.StreamResponse:
    staff: Staff = request[STAFF]
    scope = await scope_of(request)
    service = _service(request)
    filters = BoardFilters.of(request.query)
    reports, _ = await service.board(scope, limit=MAX_ROWS, sort=filters.order, **filters.board_args(service.clock()))
    rows = report_rows(reports, staff, await community_names(request))
    await request.config_dict[keys.AUDIT].record(
        staff, "report.export", "reports", None, None,
        {"rows": len(reports), "format": fmt, "filters": dict(request.query)}, ip=request.remote,
    )
    name = f"tickets-{service.clock().astimezone(TZ).strftime('%Y%m%d-%H%M')}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    if fmt == "xlsx":
        return web.Response(body=to_xlsx(rows), content_type=XLSX_TYPE, headers=headers)
    return web.Response(body=to_csv(rows), content_type="text/csv", charset="utf-8", headers=headers)


# -- stats -------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/reports/stats")
@staff_required()
async def stats(request: web.Request) -> web.StreamResponse:
    period = request.query.get("period", "30")
    period = period if period in PERIODS else "30"
    days = PERIODS[period]
    service = _service(request)
    since = service.clock() - timedelta(days=days) if days else None
    scope = await scope_of(request)
    rows = await service.stats(scope, since)
    max_count = max((r.count for r in rows), default=0)
    max_hours = max((r.median_hours or 0 for r in rows), default=0)
    return aiohttp_jinja2.render_template("reports/stats.html", request, {
        **_common(), "rows": rows, "period": period, "periods": PERIODS,
        "total": sum(r.count for r in rows), "resolved": sum(r.resolved for r in rows),
        "max_count": max_count or 1, "max_hours": max_hours or 1, "echarts_version": ECHARTS_VERSION,
    })


@routes.get(f"{PREFIX}/reports/stats.json")
@staff_required()
async def stats_json(request: web.Request) -> web.StreamResponse:
    """The charts' data (same period and scope as the page)."""
    period = request.query.get("period", "30")
    period = period if period in PERIODS else "30"
    days = PERIODS[period]
    service = _service(request)
    now = service.clock()
    since = now - timedelta(days=days) if days else None
    data = await chart_data(request.config_dict[keys.DASHBOARDS], await scope_of(request), since, now)
    return web.json_response(data, headers={"Cache-Control": "no-store"})


# -- routing table ---------------------------------------------------------------------------


async def _routing_page(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    routes_ = await _service(request).routing_table()
    return aiohttp_jinja2.render_template("reports/routing.html", request, {
        **_common(), "routes": routes_, "error": error,
        "can_edit": request[STAFF].role in ROUTING_ROLES,
    }, status=status)


@routes.get(f"{PREFIX}/reports/routing")
@staff_required()
async def routing(request: web.Request) -> web.StreamResponse:
    return await _routing_page(request)


@routes.post(f"{PREFIX}/reports/routing")
@staff_required(*ROUTING_ROLES)
async def routing_update(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    category, department = _text(form, "category", 32), _text(form, "department", 60)
    try:
        before, after = await _service(request).set_route(category, department, _text(form, "sla_hours", 4))
    except InvalidReport as exc:
        return await _routing_page(request, str(exc), status=400)
    await request.config_dict[keys.AUDIT].record(
        request[STAFF], "report_routing.update", "report_routing", category,
        {"department": before.department, "sla_hours": before.sla_hours},
        {"department": after.department, "sla_hours": after.sla_hours}, ip=request.remote,
    )
    raise web.HTTPFound(f"{PREFIX}/reports/routing")


# -- one ticket ---------------------------------------------------------------------------------


async def _scoped_report(request: web.Request) -> tuple[dict[str, Any], Report]:
    ticket = find_ticket(request.match_info["ticket"])
    if ticket is None:
        raise web.HTTPNotFound()
    scope = await scope_of(request)
    report = await _service(request).find(ticket, scope)
    if report is None:  # missing or outside the staff member's scope: the same answer
        raise web.HTTPNotFound()
    return scope, report


async def _ticket_page(request: web.Request, report: Report, error: str | None = None,
                       status: int = 200) -> web.Response:
    resident = await request.config_dict[keys.RESIDENTS].get(report.resident_id)
    actions = allowed_actions(report.status)
    departments = await _departments(request, report)
    return aiohttp_jinja2.render_template("reports/ticket.html", request, {
        **_common(), "report": report, "reporter": resident, "actions": actions, "error": error,
        "communities": await community_names(request), "departments": departments,
        "followers": len(report.followers), "photos": all_photos(report),
        "wechat_stored": await _wechat_stored(request, report),
        "own_photos": len(report.photos),
        "flash": FLASH.get(request.query.get("done", "")) if status == 200 and not error else None,
    }, status=status)


async def _departments(request: web.Request, report: Report) -> list[str]:
    """The routing table's departments (and the ticket's own): the dispatch choice."""
    return sorted({r.department for r in await _service(request).routing_table()} | {report.department})


@routes.get(f"{PREFIX}/reports/{{ticket}}")
@staff_required()
async def ticket_page(request: web.Request) -> web.StreamResponse:
    _, report = await _scoped_report(request)
    return await _ticket_page(request, report)


async def _wechat_stored(request: web.Request, report: Report) -> set[str]:
    """MediaIds of the ticket's WeChat photos already kept in GridFS (or, with the WeChat
    client configured, still fetchable from WeChat: shown and fetched on demand)."""
    store: PhotoStore = request.config_dict[keys.PHOTOS]
    media = request.config_dict.get(keys.WECHAT_MEDIA)
    ids = {m for m in (media_of(p) for p in all_photos(report)) if m}
    return {m for m in ids if media is not None or await store.find_media(m)}


@routes.get(f"{PREFIX}/reports/{{ticket}}/photos/{{index:\\d{{1,2}}}}")
@staff_required()
async def photo(request: web.Request) -> web.StreamResponse:
    _, report = await _scoped_report(request)
    index = int(request.match_info["index"])
    photos = all_photos(report)
    if index >= len(photos):
        raise web.HTTPNotFound()
    media_id = media_of(photos[index])
    if media_id is not None:  # a WeChat photo: kept in GridFS when it arrived (or fetched now)
        media = request.config_dict.get(keys.WECHAT_MEDIA)
        if media is not None:
            stored = await media.stored(media_id, report.resident_id, fetch=True)
        else:
            found = await request.config_dict[keys.PHOTOS].find_media(media_id)
            stored = await request.config_dict[keys.PHOTOS].get(found) if found else None
        if stored is None:
            raise web.HTTPNotFound()
        return web.Response(body=stored.data, content_type=stored.content_type)
    if photos[index].get("source") != "upload":
        raise web.HTTPNotFound()
    stored = await request.config_dict[keys.PHOTOS].get(photos[index]["id"])
    if stored is None:
        raise web.HTTPNotFound()
    return web.Response(body=stored.data, content_type=stored.content_type)


def all_photos(report: Report) -> list[dict[str, Any]]:
    """The reporter's photos, then those staff attached when resolving (one numbering)."""
    return list(report.photos) + [h["photo"] for h in report.history if h.get("photo")]


def _snapshot(report: Report) -> dict[str, Any]:
    return {"status": report.status, "department": report.department, "level": report.level,
            "community": report.community, "duplicate_of": report.duplicate_of, "reason": report.reason}


@routes.post(f"{PREFIX}/reports/{{ticket}}/{{action:dispatch|start|resolve|reject|duplicate}}")
@staff_required()
async def act(request: web.Request) -> web.StreamResponse:
    staff: Staff = request[STAFF]
    scope, report = await _scoped_report(request)
    action = request.match_info["action"]
    assert action in STAFF_ACTIONS
    form = await request.post()
    department = _text(form, "department", 60)
    if action == "dispatch" and department and department not in await _departments(request, report):
        return await _ticket_page(request, report, "请从列表中选择承办部门", status=400)
    photo_ref = None
    upload = form.get("photo")
    if action == "resolve" and isinstance(upload, web.FileField):
        data = upload.file.read()
        if data:  # an empty file input means "no photo"
            store: PhotoStore = request.config_dict[keys.PHOTOS]
            try:
                photo_ref = await store.put(data, uploaded_by=f"staff:{staff.id}", now=_service(request).clock())
            except BadPhoto as exc:
                message = "照片只能是 JPG 或 PNG 格式" if exc.code == "bad_photo_type" else "照片太大或是空的"
                return await _ticket_page(request, report, message, status=400)
    try:
        after = await _service(request).act(
            report.ticket, action, Actor("staff", staff.id, staff.name), scope=scope,
            note=_text(form, "note", 500) or None,
            # The grouped form has one note: it is the reason of a rejection or a duplicate.
            reason=_text(form, "reason", 500) or (_text(form, "note", 500) if action in ("reject", "duplicate") else "")
            or None,
            department=_text(form, "department", 60) or None,
            duplicate_of=_text(form, "duplicate_of", 40) or None,
            photo=photo_ref,
        )
    except ReportError as exc:
        current = await _service(request).find(report.ticket, scope) or report
        return await _ticket_page(request, current, str(exc), status=400 if isinstance(exc, InvalidReport) else 409)
    await request.config_dict[keys.AUDIT].record(
        staff, f"report.{action}", "reports", report.ticket, _snapshot(report),
        {**_snapshot(after), "note": after.history[-1].get("note")},
        community=report.community, resident_id=report.resident_id, ip=request.remote,
    )
    raise web.HTTPFound(f"{PREFIX}/reports/{report.ticket}?done={action}")

