"""Mini-program API for reports (报事) and the resident's notices.

POST /api/v1/reports                         create (multipart/form-data with up to 3
                                             photos, or a form / JSON without)
GET  /api/v1/reports                         mine (reported or followed), newest first
GET  /api/v1/reports/{ticket}                one of mine, with its history
GET  /api/v1/reports/{ticket}/photos/{index} an uploaded photo of one of mine
POST /api/v1/reports/{ticket}/rating         confirm the fix and rate it 1-5
POST /api/v1/reports/{ticket}/reopen         the problem is not fixed after all
GET  /api/v1/notices                         my notices (status changes), newest first
POST /api/v1/notices/read                    mark some or all of them read

Photos: JPEG or PNG by their magic bytes (not the name or declared type), at most
`upload_max_bytes` each and MAX_PHOTOS per report, read in chunks so an oversized
upload is refused before it is all in memory. Tickets of other residents answer 404.
"""
from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import current_resident
from bot.api.models.base import Body, invalid, read_body
from bot.json_body import read_json
from bot.api.models.reports import (
    TICKET, MarkNoticesRead, Notice, Notices, NoticesMarked, NoticesQuery, RatingRequest, ReopenRequest,
    ReportCreated, ReportDetail, NewReportRequest, Report, Reports, ReportsQuery, create_request_body,
)
from bot.api.spec import NOT_FOUND, operations
from bot.errors import ApiError
from services.report_rules import MAX_PHOTOS, NewReport, Reporter
from services.reports import ReportService
from storage.photos import BadPhoto, PhotoStore
from storage.reports import Report as StoredReport, find_ticket

routes = web.RouteTableDef()
op = operations("reports")
op_notices = operations("notices")

FIELDS = tuple(NewReportRequest.__fields__)
MAX_FIELD_BYTES = 4096
# Multipart overhead allowed beyond the photos themselves.
MULTIPART_SLACK = 64 * 1024


def _service(request: web.Request) -> ReportService:
    return request.config_dict[keys.REPORTS]


def _ticket(request: web.Request) -> str:
    ticket = find_ticket(request.match_info["ticket"])
    if ticket is None:
        raise ApiError(404, "report_not_found", "没有找到这个工单", "malformed ticket number")
    return ticket


async def _read_object(request: web.Request, model: type[Body]) -> dict[str, Any]:
    """The JSON body, refused (400) unless an object, before the ticket is looked at."""
    raw = await read_json(request)
    if not isinstance(raw, dict):
        model.parse_body(raw)  # the 400 for a body that is not an object
    return raw


# -- create ----------------------------------------------------------------------------


async def _read_limited(part: BodyPartReader, limit: int, too_big: ApiError) -> bytes:
    data = bytearray()
    while True:
        chunk = await part.read_chunk(64 * 1024)
        if not chunk:
            return bytes(data)
        data.extend(chunk)
        if len(data) > limit:
            raise too_big


async def _read_multipart(request: web.Request, photo_limit: int) -> tuple[dict[str, Any], list[bytes]]:
    """Text fields and photo bytes of a multipart body, each size-checked while read."""
    max_total = MAX_PHOTOS * photo_limit + MULTIPART_SLACK
    if request.content_length is not None and request.content_length > max_total:
        raise ApiError(413, "body_too_large", "上传的内容太大了", f"body larger than {max_total} bytes")
    try:
        reader = await request.multipart()
    except (ValueError, AssertionError):
        raise ApiError(400, "invalid_multipart", "上传格式不正确", "malformed multipart body") from None
    fields: dict[str, Any] = {}
    photos: list[bytes] = []
    photo_too_big = ApiError(413, "photo_too_large", f"照片不能超过{photo_limit // (1024 * 1024) or 1}MB",
                             f"photo larger than {photo_limit} bytes")
    field_too_big = ApiError(400, "invalid_body", "填写的内容太长了", f"a field is longer than {MAX_FIELD_BYTES} bytes")
    try:
        while True:
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "invalid_multipart", "上传格式不正确", "nested multipart is not supported")
            name = part.name or ""
            if name == "photo":
                if len(photos) >= MAX_PHOTOS:
                    raise ApiError(400, "too_many_photos", f"最多上传{MAX_PHOTOS}张照片",
                                   f"at most {MAX_PHOTOS} photos")
                photos.append(await _read_limited(part, photo_limit, photo_too_big))
            elif name in FIELDS:
                if name in fields:
                    raise ApiError(400, "invalid_body", f"字段重复：{name}", f"duplicate field {name}")
                raw = await _read_limited(part, MAX_FIELD_BYTES, field_too_big)
                try:
                    fields[name] = raw.decode("utf-8")
                except UnicodeDecodeError:
                    raise invalid(name, "不是有效的文字", "not UTF-8") from None
            else:
                raise ApiError(400, "invalid_body", f"不支持的字段：{name}", f"unknown field {name!r}")
    except ApiError:
        raise
    except (ValueError, AssertionError):
        raise ApiError(400, "invalid_multipart", "上传格式不正确", "malformed multipart body") from None
    return _numbers(fields), photos


async def _read_form(request: web.Request) -> dict[str, Any]:
    """A URL-encoded form without photos (the app's body limit applies)."""
    form = await request.post()
    body: dict[str, Any] = {}
    for name in form:
        if name not in FIELDS:
            raise ApiError(400, "invalid_body", f"不支持的字段：{name}", f"unknown field {name!r}")
        values = form.getall(name)
        if len(values) != 1 or not isinstance(values[0], str):
            raise ApiError(400, "invalid_body", f"字段重复：{name}", f"duplicate field {name}")
        body[name] = values[0]
    return _numbers(body)


def _numbers(fields: dict[str, Any]) -> dict[str, Any]:
    """Form fields lat/lng as numbers (blank ones dropped)."""
    for name in ("lat", "lng"):
        if name in fields and str(fields[name]).strip():
            try:
                fields[name] = float(fields[name])
            except ValueError:
                raise invalid(name, "必须是数字", "must be a number") from None
        else:
            fields.pop(name, None)
    return fields


def _new_report(body: NewReportRequest) -> NewReport:
    if (body.lat is None) != (body.lng is None):
        raise invalid("lat", "经纬度要一起填写", "lat and lng go together")
    return NewReport(category=body.category, description=body.description, location_text=body.location_text,
                     latitude=body.lat, longitude=body.lng, source="api")


async def _photo_quota(request: web.Request, resident_id: str, count: int) -> None:
    """At most `upload_photos_per_day` photos per resident per day (checked before any is stored)."""
    per_day = request.config_dict[keys.SETTINGS].upload_photos_per_day
    for _ in range(count):
        decision = await request.config_dict[keys.RATE_LIMITER].hit(f"photos:{resident_id}", per_day, 86400)
        if not decision.allowed:
            raise ApiError(429, "photo_quota", f"今天上传的照片已达{per_day}张上限，请明天再传，或先不带照片提交",
                           f"more than {per_day} photos per day", headers={"Retry-After": str(decision.retry_after)})


@routes.post(f"{PREFIX}/reports")
@op("createReport", "报事：提交一个问题（可带现场照片）", body=NewReportRequest, request_body=create_request_body(),
    description="同类问题在附近（或同一地点描述）已有在办工单时，不新开工单，而是关联到已有工单"
                "（duplicate=true，report 为已有工单，own_ticket 为本次记录号）。",
    answers={201: (ReportCreated, "已提交"),
             400: "字段不正确，或照片不是 JPG/PNG（bad_photo_type）、是空的（empty_photo）、太多（too_many_photos）",
             413: "照片太大（photo_too_large）或请求太大", 415: "请求类型不支持"})
async def create_report(request: web.Request) -> web.Response:
    resident = current_resident(request)
    store: PhotoStore = request.config_dict[keys.PHOTOS]
    photos: list[bytes] = []
    if request.content_type == "multipart/form-data":
        fields, photos = await _read_multipart(request, store.max_bytes)
        body = NewReportRequest.parse_body(fields)
    elif request.content_type == "application/json":
        body = await read_body(request, NewReportRequest)
    elif request.content_type == "application/x-www-form-urlencoded":
        body = NewReportRequest.parse_body(await _read_form(request))
    else:
        raise ApiError(415, "unsupported_media_type", "请用 multipart/form-data（带照片）或 JSON 提交",
                       "use multipart/form-data, application/x-www-form-urlencoded or application/json")
    new = _new_report(body)
    for data in photos:
        try:
            store.check(data)
        except BadPhoto as exc:
            zh = "照片只能是 JPG 或 PNG 格式" if exc.code == "bad_photo_type" else "照片是空的"
            raise ApiError(400 if exc.code != "photo_too_large" else 413, exc.code, zh, str(exc)) from None
    await _photo_quota(request, resident.id, len(photos))
    service = _service(request)
    now = service.clock()
    new.photos = [await store.put(data, uploaded_by=resident.id, now=now) for data in photos]
    user_key = next((k for k in resident.user_keys if k.startswith("mp:")), f"mp:{resident.id}")
    created = await service.create(Reporter(resident.id, user_key, resident.community), new)
    return json_response(ReportCreated(report=ReportDetail.of(created.report, resident.id),
                                       duplicate=created.duplicate, own_ticket=created.own_ticket), status=201)


# -- read ------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/reports")
@op("listReports", "我的报事（我提交的和我关注的），最新的在前", query=ReportsQuery,
    answers={200: (Reports, "列表")})
async def list_reports(request: web.Request) -> web.Response:
    resident = current_resident(request)
    query = ReportsQuery.parse_request(request)
    reports = await _service(request).for_resident(resident.id, active_only=query.status == "active", limit=50)
    return json_response(Reports(reports=[Report.of(r, resident.id) for r in reports]))


async def _mine(request: web.Request) -> tuple[Any, StoredReport]:
    resident = current_resident(request)
    return resident, await _service(request).get_for_resident(_ticket(request), resident.id)


@routes.get(f"{PREFIX}/reports/{{ticket}}")
@op("getReport", "查看我的一个工单（含办理记录）", path={"ticket": TICKET},
    answers={200: (ReportDetail, "工单详情"), 404: NOT_FOUND})
async def get_report(request: web.Request) -> web.Response:
    resident, report = await _mine(request)
    return json_response(ReportDetail.of(report, resident.id))


_BINARY = {"schema": {"type": "string", "format": "binary"}}


@routes.get(f"{PREFIX}/reports/{{ticket}}/photos/{{index}}")
@op("getReportPhoto", "工单的现场照片（仅报事人和关注人可看）",
    path={"ticket": TICKET, "index": {"type": "integer", "minimum": 0}},
    answers={200: {"description": "照片", "content": {"image/jpeg": _BINARY, "image/png": _BINARY}},
             404: NOT_FOUND})
async def get_photo(request: web.Request) -> web.Response:
    _, report = await _mine(request)
    raw = request.match_info["index"]
    index = int(raw) if raw.isdigit() and len(raw) < 3 else -1
    if not 0 <= index < len(report.photos) or report.photos[index].get("source") != "upload":
        raise ApiError(404, "photo_not_found", "没有这张照片", "no uploaded photo at this index")
    photo = await request.config_dict[keys.PHOTOS].get(report.photos[index]["id"])
    if photo is None:
        raise ApiError(404, "photo_not_found", "没有这张照片", "photo file missing")
    return web.Response(body=photo.data, content_type=photo.content_type,
                        headers={"Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


# -- the resident's actions -----------------------------------------------------------------


@routes.post(f"{PREFIX}/reports/{{ticket}}/rating")
@op("rateReport", "确认问题已解决并评价（1-5 星），待确认的工单随之办结", body=RatingRequest,
    path={"ticket": TICKET},
    answers={200: (ReportDetail, "评价后的工单"), 404: NOT_FOUND,
             409: "还没处理完（not_resolved）或已经评价过（already_rated）"})
async def rate_report(request: web.Request) -> web.Response:
    resident = current_resident(request)
    raw = await _read_object(request, RatingRequest)  # a broken body is 400 before anything else
    ticket = _ticket(request)
    body = RatingRequest.parse_body(raw)
    report = await _service(request).rate(ticket, resident.id, body.stars, body.comment)
    return json_response(ReportDetail.of(report, resident.id))


@routes.post(f"{PREFIX}/reports/{{ticket}}/reopen")
@op("reopenReport", "问题没有解决：退回承办部门重新处理", body=ReopenRequest, path={"ticket": TICKET},
    answers={200: (ReportDetail, "重新处理中的工单"), 404: NOT_FOUND, 409: "工单不是待确认状态"})
async def reopen_report(request: web.Request) -> web.Response:
    resident = current_resident(request)
    raw = await _read_object(request, ReopenRequest)
    ticket = _ticket(request)
    body = ReopenRequest.parse_body(raw)
    report = await _service(request).reopen(ticket, resident.id, body.note)
    return json_response(ReportDetail.of(report, resident.id))


# -- notices -------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/notices")
@op_notices("listNotices", "我的消息通知（工单进度等），最新的在前", query=NoticesQuery,
            answers={200: (Notices, "通知")})
async def list_notices(request: web.Request) -> web.Response:
    resident = current_resident(request)
    query = NoticesQuery.parse_request(request)
    notices = await request.config_dict[keys.NOTIFIER].for_resident(
        resident.id, unread_only=query.unread in ("1", "true"))
    return json_response(Notices(notices=[Notice.of(n) for n in notices]))


@routes.post(f"{PREFIX}/notices/read")
@op_notices("markNoticesRead", "标记通知已读（不传 ids 表示全部）", body=MarkNoticesRead,
            answers={200: (NoticesMarked, "标记了几条")})
async def read_notices(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_body(request, MarkNoticesRead)
    ids = list(body.ids) if body.ids is not None else None
    changed = await request.config_dict[keys.NOTIFIER].mark_read(resident.id, ids)
    return json_response(NoticesMarked(marked=changed))
