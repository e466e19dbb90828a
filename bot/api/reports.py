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
from bot.api.reports_openapi import OPENAPI, OPENAPI_COMPONENTS  # noqa: F401  (this module's document)
from bot.api.validation import get_field, invalid, read_object, reject_unknown
from bot.errors import ApiError
from services.report_rules import ACTION_LABELS, MAX_DESCRIPTION, MAX_LOCATION_TEXT, MAX_PHOTOS, NewReport, Reporter
from services.reports import ReportService
from storage.photos import BadPhoto, PhotoStore
from storage.reports import STATUS_LABELS, Report, find_ticket
from storage.routing import CATEGORIES

routes = web.RouteTableDef()

FIELDS = ("category", "location_text", "lat", "lng", "description")
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


def report_json(report: Report, resident_id: str, *, detail: bool = False) -> dict[str, Any]:
    """A report as its reporter (or a follower) sees it: no staff names or ids."""
    data: dict[str, Any] = {
        "ticket": report.ticket,
        "category": report.category,
        "category_name": CATEGORIES.get(report.category, report.category),
        "status": report.status,
        "status_name": STATUS_LABELS.get(report.status, report.status),
        "department": report.department,
        "location_text": report.location_text,
        "latitude": report.latitude,
        "longitude": report.longitude,
        "description": report.description,
        "created_at": report.created_at,
        "due_at": report.due_at,
        "overdue": report.overdue,
        "duplicate_of": report.duplicate_of,
        "mine": report.resident_id == resident_id,
        "rating": {"stars": report.rating["stars"], "comment": report.rating.get("comment")} if report.rating else None,
        "can_rate": report.resident_id == resident_id and report.status in ("resolved", "closed")
        and not report.rating,
    }
    if detail:
        data["photos"] = [
            {"index": i, "source": p.get("source"),
             "url": f"{PREFIX}/reports/{report.ticket}/photos/{i}" if p.get("source") == "upload" else None}
            for i, p in enumerate(report.photos)
        ]
        data["history"] = [
            {"action": h.get("action"), "action_name": ACTION_LABELS.get(h.get("action"), h.get("action")),
             "status": h.get("status"), "at": h.get("at"), "by": (h.get("actor") or {}).get("kind"),
             "note": h.get("note"), "reason": h.get("reason")}
            for h in report.history
        ]
    return data


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


def _new_report(body: dict[str, Any]) -> NewReport:
    category = get_field(body, "category", str, max_len=32, choices=CATEGORIES)
    description = get_field(body, "description", str, max_len=MAX_DESCRIPTION)
    location_text = get_field(body, "location_text", str, required=False, max_len=MAX_LOCATION_TEXT)
    lat = get_field(body, "lat", float, required=False, min_value=-90, max_value=90)
    lng = get_field(body, "lng", float, required=False, min_value=-180, max_value=180)
    if (lat is None) != (lng is None):
        raise invalid("lat", "经纬度要一起填写", "lat and lng go together")
    return NewReport(category=category, description=description, location_text=location_text,
                     latitude=lat, longitude=lng, source="api")


async def _photo_quota(request: web.Request, resident_id: str, count: int) -> None:
    """At most `upload_photos_per_day` photos per resident per day (checked before any is stored)."""
    per_day = request.config_dict[keys.SETTINGS].upload_photos_per_day
    for _ in range(count):
        decision = await request.config_dict[keys.RATE_LIMITER].hit(f"photos:{resident_id}", per_day, 86400)
        if not decision.allowed:
            raise ApiError(429, "photo_quota", f"今天上传的照片已达{per_day}张上限，请明天再传，或先不带照片提交",
                           f"more than {per_day} photos per day", headers={"Retry-After": str(decision.retry_after)})


@routes.post(f"{PREFIX}/reports")
async def create_report(request: web.Request) -> web.Response:
    resident = current_resident(request)
    store: PhotoStore = request.config_dict[keys.PHOTOS]
    photos: list[bytes] = []
    if request.content_type == "multipart/form-data":
        body, photos = await _read_multipart(request, store.max_bytes)
    elif request.content_type == "application/json":
        body = await read_object(request)
        reject_unknown(body, FIELDS)
    elif request.content_type == "application/x-www-form-urlencoded":
        body = await _read_form(request)
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
    return json_response({
        "report": report_json(created.report, resident.id, detail=True),
        "duplicate": created.duplicate,
        "own_ticket": created.own_ticket,
    }, status=201)


# -- read ------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/reports")
async def list_reports(request: web.Request) -> web.Response:
    resident = current_resident(request)
    scope = request.query.get("status", "active")
    if scope not in ("active", "all"):
        raise invalid("status", "只能是 active 或 all", "must be active or all")
    reports = await _service(request).for_resident(resident.id, active_only=scope == "active", limit=50)
    return json_response({"reports": [report_json(r, resident.id) for r in reports]})


async def _mine(request: web.Request) -> tuple[Any, Report]:
    resident = current_resident(request)
    return resident, await _service(request).get_for_resident(_ticket(request), resident.id)


@routes.get(f"{PREFIX}/reports/{{ticket}}")
async def get_report(request: web.Request) -> web.Response:
    resident, report = await _mine(request)
    return json_response(report_json(report, resident.id, detail=True))


@routes.get(f"{PREFIX}/reports/{{ticket}}/photos/{{index}}")
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
async def rate_report(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_object(request)  # a broken body is 400 before anything else
    ticket = _ticket(request)
    reject_unknown(body, {"stars", "comment"})
    stars = get_field(body, "stars", int, min_value=1, max_value=5)
    comment = get_field(body, "comment", str, required=False, max_len=200)
    report = await _service(request).rate(ticket, resident.id, stars, comment)
    return json_response(report_json(report, resident.id, detail=True))


@routes.post(f"{PREFIX}/reports/{{ticket}}/reopen")
async def reopen_report(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_object(request)
    ticket = _ticket(request)
    reject_unknown(body, {"note"})
    note = get_field(body, "note", str, required=False, max_len=200)
    report = await _service(request).reopen(ticket, resident.id, note)
    return json_response(report_json(report, resident.id, detail=True))


# -- notices -------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/notices")
async def list_notices(request: web.Request) -> web.Response:
    resident = current_resident(request)
    unread = request.query.get("unread", "0")
    if unread not in ("0", "1", "true", "false"):
        raise invalid("unread", "只能是 1 或 0", "must be 1 or 0")
    notices = await request.config_dict[keys.NOTIFIER].for_resident(resident.id, unread_only=unread in ("1", "true"))
    return json_response({"notices": [n.as_json() for n in notices]})


@routes.post(f"{PREFIX}/notices/read")
async def read_notices(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_object(request)
    reject_unknown(body, {"ids"})
    ids = get_field(body, "ids", list, required=False, max_len=64, max_items=200)
    changed = await request.config_dict[keys.NOTIFIER].mark_read(resident.id, ids)
    return json_response({"marked": changed})
