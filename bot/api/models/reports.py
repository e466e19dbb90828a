"""Requests and responses of the reports API (报事) and the resident's notices."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import Field

from bot.api import PREFIX
from bot.api.models.base import Body, Out, Query
from bot.api.models.fields import integer, items, number, one_of, text
from services.report_rules import ACTION_LABELS, MAX_DESCRIPTION, MAX_LOCATION_TEXT, MAX_PHOTOS
from storage import notices
from storage.report_model import Report as StoredReport
from storage.reports import STATUS_LABELS
from storage.routing import CATEGORIES

PHOTO_SOURCES = ("upload", "wechat")
ACTOR_KINDS = ("resident", "staff", "system")
TICKET = {"type": "string", "example": "R20261122-0001"}


# ---- requests ------------------------------------------------------------------------------

class NewReportRequest(Body):
    """A new report: the JSON body, and the text fields of a form (lat/lng already numbers)."""

    category: one_of(CATEGORIES) = Field(..., description="问题类别")  # type: ignore[valid-type]
    description: text(MAX_DESCRIPTION) = Field(..., description="情况描述")  # type: ignore[valid-type]
    location_text: Optional[text(MAX_LOCATION_TEXT)] = Field(None, example="3栋门口")  # type: ignore[valid-type]
    lat: Optional[number(ge=-90, le=90)] = Field(None, description="纬度（与 lng 一起填）")  # type: ignore[valid-type]
    lng: Optional[number(ge=-180, le=180)] = Field(None, description="经度")  # type: ignore[valid-type]


def create_request_body() -> dict[str, Any]:
    """The raw requestBody of POST /reports: a multipart form (the fields of NewReportRequest
    plus up to MAX_PHOTOS `photo` parts), a URL-encoded form of the same fields, or JSON."""
    schema = NewReportRequest.schema()
    fields = {"type": "object", "required": schema["required"], "properties": schema["properties"],
              "additionalProperties": False}
    photo = {"type": "string", "format": "binary",
             "description": f"JPG 或 PNG，单张不超过配置上限（默认 2MB），最多 {MAX_PHOTOS} 张"}
    multipart = {**fields, "properties": {**fields["properties"],
                                          "photo": {"type": "array", "items": photo, "maxItems": MAX_PHOTOS}}}
    return {"required": True, "content": {
        "multipart/form-data": {"schema": multipart, "encoding": {"photo": {"contentType": "image/jpeg, image/png"}}},
        "application/x-www-form-urlencoded": {"schema": fields},
        "application/json": {"schema": {"$ref": "#/components/schemas/NewReportRequest"}},
    }}


class ReportsQuery(Query):
    status: one_of(("active", "all")) = Field(  # type: ignore[valid-type]
        "active", description="active：在办和待确认；all：全部")


class RatingRequest(Body):
    stars: integer(ge=1, le=5) = Field(..., description="1-5 星")  # type: ignore[valid-type]
    comment: Optional[text(200)] = None  # type: ignore[valid-type]


class ReopenRequest(Body):
    note: Optional[text(200)] = Field(None, description="哪里还没解决")  # type: ignore[valid-type]


class NoticesQuery(Query):
    unread: one_of(("0", "1", "true", "false")) = Field(  # type: ignore[valid-type]
        "0", description="1 或 true：只看未读")


class MarkNoticesRead(Body):
    ids: Optional[items(text(64), max_items=200)] = Field(  # type: ignore[valid-type]
        None, description="要标记的通知；不传表示全部")


# ---- responses -----------------------------------------------------------------------------

class ReportRating(Out):
    stars: int
    comment: Optional[str] = Field(...)


class ReportPhoto(Out):
    index: int
    source: one_of(PHOTO_SOURCES)  # type: ignore[valid-type]
    url: Optional[str] = Field(..., description="上传的照片的地址；微信里发的照片为 null")


class ReportHistoryEntry(Out):
    action: str
    action_name: str
    status: Optional[str] = Field(...)
    at: datetime
    by: Optional[one_of(ACTOR_KINDS)] = Field(  # type: ignore[valid-type]
        ..., description="null in the view a follower of the ticket gets (who acted is not shown)")
    note: Optional[str] = Field(...)
    reason: Optional[str] = Field(...)


class Report(Out):
    """A report as its reporter (or a follower) sees it: no staff names or ids."""

    ticket: str = Field(..., example="R20261122-0001")
    category: one_of(CATEGORIES)  # type: ignore[valid-type]
    category_name: str = Field(..., example="路灯不亮")
    status: one_of(STATUS_LABELS)  # type: ignore[valid-type]
    status_name: str = Field(..., example="处理中")
    department: str
    location_text: Optional[str] = Field(...)
    latitude: Optional[float] = Field(...)
    longitude: Optional[float] = Field(...)
    description: str
    created_at: datetime
    due_at: Optional[datetime] = Field(..., description="办理时限")
    overdue: bool
    duplicate_of: Optional[str] = Field(...)
    mine: bool = Field(..., description="true：我提交的；false：我关注的（重复反映）")
    rating: Optional[ReportRating] = Field(...)
    can_rate: bool

    @classmethod
    def fields_of(cls, report: StoredReport, resident_id: str) -> dict[str, Any]:
        rating = report.rating
        return dict(
            ticket=report.ticket, category=report.category,
            category_name=CATEGORIES.get(report.category, report.category),
            status=report.status, status_name=STATUS_LABELS.get(report.status, report.status),
            department=report.department, location_text=report.location_text,
            latitude=report.latitude, longitude=report.longitude, description=report.description,
            created_at=report.created_at, due_at=report.due_at, overdue=report.overdue,
            duplicate_of=report.duplicate_of, mine=report.resident_id == resident_id,
            rating=ReportRating(stars=rating["stars"], comment=rating.get("comment")) if rating else None,
            can_rate=report.resident_id == resident_id and report.status in ("resolved", "closed")
            and not rating,
        )

    @classmethod
    def of(cls, report: StoredReport, resident_id: str) -> "Report":
        return cls(**cls.fields_of(report, resident_id))


class ReportDetail(Report):
    """One report with its photos and its history."""

    photos: list[ReportPhoto]
    history: list[ReportHistoryEntry] = Field(..., description="办理记录，先发生的在前")

    @classmethod
    def of(cls, report: StoredReport, resident_id: str) -> "ReportDetail":
        photos = [
            ReportPhoto(index=i, source=p.get("source"),
                        url=f"{PREFIX}/reports/{report.ticket}/photos/{i}" if p.get("source") == "upload" else None)
            for i, p in enumerate(report.photos)
        ]
        history = [
            ReportHistoryEntry(action=h.get("action"), action_name=ACTION_LABELS.get(h.get("action"), h.get("action")),
                               status=h.get("status"), at=h.get("at"), by=(h.get("actor") or {}).get("kind"),
                               note=h.get("note"), reason=h.get("reason"))
            for h in report.history
        ]
        return cls(**cls.fields_of(report, resident_id), photos=photos, history=history)


class ReportCreated(Out):
    report: ReportDetail  # mine, or the open ticket mine duplicates
    duplicate: bool
    own_ticket: str = Field(..., description="本次提交的记录号")


class Reports(Out):
    reports: list[Report]


class Notice(Out):
    id: str
    text: str
    ref: Optional[str] = Field(..., description="相关工单号等")
    created_at: datetime
    read: bool

    @classmethod
    def of(cls, notice: notices.Notice) -> "Notice":
        return cls(id=notice.id, text=notice.text, ref=notice.ref, created_at=notice.created_at, read=notice.read)


class Notices(Out):
    notices: list[Notice]


class NoticesMarked(Out):
    marked: int = Field(..., description="标记了几条")
