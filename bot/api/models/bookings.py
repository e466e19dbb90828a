"""Requests and responses of the bookings API (预约, 候补, 家人/志愿者代约绑定).

A rental service (康复辅具租赁) says more than a session service: `RentalService` adds
`loan_days`, `RentalSlots` adds `pickup_dates`, and a link the helper is still waiting
on (`PendingResidentLink`) carries its code. Each is its own model, so a body holds
exactly the keys it always did.
"""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal, Optional, Union

from pydantic import Field, StrictBool

from bot.api.models.base import Body, Out, Query, Variants
from bot.api.models.fields import Day, one_of, query_integer, text
from domain.time import TZ
from services import eligibility
from services.booking_rules import rules_of
from storage.booking_catalog import SERVICE_CODES
from storage.residents import Resident

RELATIONS = ("family", "volunteer")
BOOKING_STATUSES = ("booked", "cancelled", "returned")
WAIT_STATUSES = ("waiting", "offered", "accepted", "declined", "expired", "cancelled")
FOR_ELDER = "替已绑定的老人查看时填老人的 resident id"


# ---- field types ---------------------------------------------------------------------------

def _local(moment: datetime | None) -> datetime | None:
    return moment.astimezone(TZ) if moment else None


# ---- requests ----------------------------------------------------------------------------

class ServicesQuery(Query):
    for_: Optional[text()] = Field(None, alias="for", description=FOR_ELDER)  # type: ignore[valid-type]


class SlotsQuery(Query):
    date: Optional[Day] = Field(None, description="只看这一天起的时段（北京时间）")
    days: Optional[query_integer(ge=1, le=31)] = Field(  # type: ignore[valid-type]
        None, description="从 date 起看几天，默认1天")
    for_: Optional[text()] = Field(None, alias="for", description=FOR_ELDER)  # type: ignore[valid-type]


class BookingRequest(Body):
    slot_id: text(24) = Field(..., description="时段 id")  # type: ignore[valid-type]
    for_resident_id: Optional[text(24)] = Field(None, description="替已绑定的老人预约")  # type: ignore[valid-type]
    waitlist: StrictBool = Field(False, description="约满时排队候补")  # type: ignore[assignment]
    pickup_date: Optional[Day] = Field(None, description="辅具租赁的领取日期")


class CancelBookingRequest(Body):
    reason: Optional[text(100)] = Field(None, description="取消原因")  # type: ignore[valid-type]


class ResidentLinkRequest(Body):
    relation: one_of(RELATIONS) = Field(  # type: ignore[valid-type]
        ..., description="family=家人，volunteer=志愿者")
    label: Optional[text(12)] = Field(None, example="妈妈", description="老人在我这里的称呼")  # type: ignore[valid-type]


class ResidentLinkConfirm(Body):
    code: text(6, regex=r"^\d{6}$") = Field(..., description="家人给的6位验证码")  # type: ignore[valid-type]

    formats = {"code": ("请填写6位数字验证码", "code must be 6 digits")}


# ---- services and slots --------------------------------------------------------------------

class BookableService(Out):
    code: one_of(SERVICE_CODES)  # type: ignore[valid-type]
    name: str
    description: Optional[str] = Field(...)
    location: Optional[str] = Field(...)
    community: str
    kind: one_of(("session", "rental"))  # type: ignore[valid-type]
    for_whom: str
    window_days: int = Field(..., description="可提前几天预约")
    min_notice_minutes: int = Field(..., description="至少提前几分钟预约")
    cancel_cutoff_minutes: int = Field(..., description="开始前几分钟停止取消")
    eligible: bool = Field(..., description="我（或 for 指定的老人）能否预约")
    ineligible_reason: Optional[str] = Field(..., description="不能预约时给用户看的说明")

    @staticmethod
    def of(service: dict[str, Any], verdict: eligibility.Verdict) -> "BookableService":
        rules = rules_of(service)
        fields = dict(
            code=service["code"], name=service["name"], description=service.get("description"),
            location=service.get("location"), community=service["community"],
            kind=service.get("kind", "session"),
            for_whom=eligibility.describe(service.get("eligibility") or {}),
            window_days=rules["window_days"], min_notice_minutes=rules["min_notice_minutes"],
            cancel_cutoff_minutes=rules["cancel_cutoff_minutes"],
            eligible=verdict.ok, ineligible_reason=None if verdict.ok else verdict.text,
        )
        if service.get("kind") == "rental":
            return RentalService(**fields, loan_days=service.get("loan_days", 30))
        return BookableService(**fields)


class RentalService(BookableService):
    """A rental (辅具租赁): also how many days an aid may be kept."""

    loan_days: int = Field(..., description="最长借用天数")


AnyService = Union[RentalService, BookableService]


class BookableServices(Out):
    services: list[AnyService]  # type: ignore[valid-type]


class Slot(Out):
    id: str
    service: str
    start: Optional[datetime] = Field(..., description="北京时间；辅具租赁为 null")
    end: Optional[datetime] = Field(...)
    title: Optional[str] = Field(...)
    unit: Optional[str] = Field(..., description="辅具租赁：哪种辅具")
    capacity: int
    free: int = Field(..., description="还有几个名额（0：已满，可排队候补）")
    status: str

    @classmethod
    def of(cls, slot: dict[str, Any]) -> "Slot":
        return cls(id=slot["_id"], service=slot["service"], start=_local(slot.get("start")),
                   end=_local(slot.get("end")), title=slot.get("title"), unit=slot.get("unit"),
                   capacity=slot["capacity"], free=max(0, slot["capacity"] - slot["booked"]),
                   status=slot.get("status"))


class ServiceSlots(Out):
    service: AnyService  # type: ignore[valid-type]
    slots: list[Slot]


class RentalSlots(ServiceSlots):
    pickup_dates: list[date] = Field(..., description="辅具租赁可领取的日期")


class ServiceSlotsAnswer(Variants):
    __root__: Union[RentalSlots, ServiceSlots]


# ---- bookings and the waitlist ---------------------------------------------------------------

class Booking(Out):
    id: str
    booking_no: str = Field(..., example="20481735")
    service: str
    service_name: str
    title: Optional[str] = Field(...)
    unit: Optional[str] = Field(...)
    location: Optional[str] = Field(...)
    start: Optional[datetime] = Field(...)
    end: Optional[datetime] = Field(...)
    status: one_of(BOOKING_STATUSES)  # type: ignore[valid-type]
    attendance: Optional[one_of(("attended", "no_show"))] = Field(...)  # type: ignore[valid-type]
    for_resident_id: str
    for_me: bool
    cancel_reason: Optional[str] = Field(...)
    created_at: Optional[datetime] = Field(...)

    @classmethod
    def of(cls, booking: dict[str, Any], me: Resident) -> "Booking":
        return cls(
            id=booking["_id"], booking_no=booking["booking_no"], service=booking["service"],
            service_name=booking["service_name"], title=booking.get("title"), unit=booking.get("unit"),
            location=booking.get("location"), start=_local(booking["start"]), end=_local(booking.get("end")),
            status=booking["status"], attendance=booking.get("attendance"),
            for_resident_id=booking["resident_id"], for_me=booking["resident_id"] == me.id,
            cancel_reason=booking.get("cancel_reason"), created_at=booking.get("created_at"),
        )


class WaitlistEntry(Out):
    id: str
    service: str
    service_name: str
    slot_id: str
    start: Optional[datetime] = Field(...)
    title: Optional[str] = Field(...)
    status: one_of(WAIT_STATUSES)  # type: ignore[valid-type]
    position: Optional[int] = Field(..., description="排在第几位")
    offer_expires_at: Optional[datetime] = Field(..., description="候补名额保留到")
    for_resident_id: str

    @classmethod
    def of(cls, entry: dict[str, Any], position: int | None = None) -> "WaitlistEntry":
        slot = entry.get("slot") or {}
        return cls(
            id=entry["_id"], service=entry["service"], service_name=entry["service_name"],
            slot_id=entry["slot_id"], start=_local(slot.get("start")), title=slot.get("title"),
            status=entry["status"], position=position if position is not None else entry.get("position"),
            offer_expires_at=_local(entry.get("offer_expires_at")), for_resident_id=entry["resident_id"],
        )


class MyBookings(Out):
    bookings: list[Booking]
    offers: list[WaitlistEntry] = Field(..., description="候补到的名额，请在期限前确认")
    waiting: list[WaitlistEntry] = Field(..., description="还在排队")


class Booked(Out):
    status: Literal["booked"]
    booking: Booking


class Waitlisted(Out):
    status: Literal["waitlisted"]
    waitlist: WaitlistEntry


class CancelledBooking(Out):
    booking: Booking


class LeftWaitlist(Out):
    waitlist: WaitlistEntry


# ---- resident links ------------------------------------------------------------------------

class ResidentLink(Out):
    id: str
    role: one_of(("helper", "elder"))  # type: ignore[valid-type]
    relation: one_of(RELATIONS)  # type: ignore[valid-type]
    label: Optional[str] = Field(...)
    status: one_of(("pending", "confirmed"))  # type: ignore[valid-type]
    other_resident_id: Optional[str] = Field(...)
    other_name: Optional[str] = Field(...)
    created_at: Optional[datetime] = Field(...)

    @staticmethod
    def of(link: dict[str, Any], me: Resident, names: dict[str, Optional[str]]) -> "ResidentLink":
        as_helper = link["helper_id"] == me.id
        other = link.get("elder_id") if as_helper else link["helper_id"]
        fields = dict(
            id=link["_id"], role="helper" if as_helper else "elder", relation=link["relation"],
            label=link.get("label"), status=link["status"], other_resident_id=other,
            other_name=names.get(other) if other else None, created_at=link.get("created_at"),
        )
        if as_helper and link["status"] == "pending":
            return PendingResidentLink(**fields, code=link.get("code"),
                                       code_expires_at=_local(link.get("code_expires_at")))
        return ResidentLink(**fields)


class PendingResidentLink(ResidentLink):
    """The helper's own link, not yet confirmed: the code the elder enters."""

    code: str = Field(..., description="6位验证码，请老人输入确认")
    code_expires_at: Optional[datetime] = Field(...)


AnyLink = Union[PendingResidentLink, ResidentLink]


class ResidentLinks(Out):
    links: list[AnyLink]  # type: ignore[valid-type]


class ResidentLinkResult(Out):
    link: AnyLink  # type: ignore[valid-type]
