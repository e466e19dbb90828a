"""Requests and responses of the stations API (爱心驿站 / 能量栈, 快递外卖小哥登记)."""
from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Optional, Union

from pydantic import Field, validator

from bot.api.models.base import Body, Out, Query, Variants
from bot.api.models.fields import FieldProblem, QueryFlag, one_of, query_integer, query_number, text
from services.opening_hours import format_hours
from services.stations import DEFAULT_RADIUS_M, MAX_RADIUS_M, Hit
from storage.stations import AMENITIES, KINDS, Station as StationRecord

MAX_LIMIT = 20


# ---- requests ----------------------------------------------------------------------------

class NearbyQuery(Query):
    closed = True

    lat: query_number(ge=-90, le=90) = Field(..., description="纬度（GCJ-02/WGS84）")  # type: ignore[valid-type]
    lng: query_number(ge=-180, le=180) = Field(..., description="经度")  # type: ignore[valid-type]
    amenity: Optional[text()] = Field(  # type: ignore[valid-type]
        None, example="charging,water",
        description=f"需要的设施，逗号分隔，都要有：{', '.join(f'{k}={v}' for k, v in AMENITIES.items())}")
    kind: Optional[one_of(KINDS)] = Field(  # type: ignore[valid-type]
        None, description="centre=党群服务中心，energy=能量栈")
    open_now: QueryFlag = Field(True, description="只要现在开着的")  # type: ignore[assignment]
    radius: query_integer(ge=50, le=MAX_RADIUS_M) = Field(  # type: ignore[valid-type]
        DEFAULT_RADIUS_M, description="搜索半径（米）")
    limit: query_integer(ge=1, le=MAX_LIMIT) = Field(3, description="最多几个")  # type: ignore[valid-type]

    @validator("amenity")
    def _known_amenities(cls, value: str | None) -> str | None:
        if value is None:
            return None
        wanted = [a.strip() for a in value.split(",") if a.strip()]
        bad = [a for a in wanted if a not in AMENITIES]
        if bad:
            raise FieldProblem(zh=f"只能是 {', '.join(AMENITIES)}", en=f"unknown amenity {bad[0][:20]!r}")
        return ",".join(wanted)

    @property
    def amenities(self) -> list[str]:
        return [a for a in (self.amenity or "").split(",") if a]


class StationQuery(Query):
    lat: Optional[query_number(ge=-90, le=90)] = Field(  # type: ignore[valid-type]
        None, description="纬度（可选，和 lng 一起）")
    lng: Optional[query_number(ge=-180, le=180)] = Field(  # type: ignore[valid-type]
        None, description="经度（可选，和 lat 一起）")


class CourierRequest(Body):
    company: text(20) = Field("", description="快递或外卖公司", example="顺丰")  # type: ignore[valid-type]


# ---- responses ---------------------------------------------------------------------------

class StationLocation(Out):
    lat: float
    lng: float


class Station(Out):
    """A station as the API shows it (with whether it is open now)."""

    id: str
    name: str = Field(..., example="华富社区党群服务中心")
    kind: one_of(KINDS)  # type: ignore[valid-type]
    kind_name: str
    address: str
    location: StationLocation
    amenities: list[one_of(AMENITIES)]  # type: ignore[valid-type]
    amenity_names: list[str]
    hours: dict[str, list[list[str]]] = Field(
        ..., description="周一 mon … 周日 sun：[[\"09:00\", \"18:00\"], …]（北京时间）")
    hours_text: str = Field(..., example="周一至周五 09:00-12:00、14:00-18:00")
    phone: str
    community: str
    note: str
    demo: bool = Field(..., description="演示数据")
    open_now: bool

    @classmethod
    def fields_of(cls, station: StationRecord) -> dict[str, Any]:
        return dict(
            id=station.id, name=station.name, kind=station.kind, kind_name=station.kind_name,
            address=station.address, location=StationLocation(lat=station.latitude, lng=station.longitude),
            amenities=station.amenities, amenity_names=station.amenity_names, hours=station.hours,
            hours_text=format_hours(station.hours), phone=station.phone, community=station.community,
            note=station.note, demo=station.demo,
        )

    @classmethod
    def of(cls, station: StationRecord, open_now: bool) -> "Station":
        return cls(**cls.fields_of(station), open_now=open_now)


class StationHit(Station):
    """A station seen from a point: how far, which way, and when it opens or closes."""

    distance_m: int
    walk_minutes: int
    direction: str = Field(..., example="东北")
    walk_hint: str = Field(..., example="往东北走约5分钟")
    status_text: str = Field(..., example="开到今天18:00")

    @classmethod
    def of_hit(cls, hit: Hit) -> "StationHit":
        return cls(**Station.fields_of(hit.station), open_now=hit.open_now, distance_m=round(hit.distance_m),
                   walk_minutes=hit.walk_minutes, direction=hit.direction, walk_hint=hit.walk_text,
                   status_text=hit.hours_text)


class StationDetail(Variants):
    """GET /stations/{id}: with lat/lng the station seen from there, else the station."""

    __root__: Union[StationHit, Station]


class NearbyStations(Out):
    stations: list[StationHit]
    reason: Optional[one_of(("none_open", "none_with_amenity"))] = Field(  # type: ignore[valid-type]
        ..., description="none_open：范围内有但现在都关着；none_with_amenity：范围内没有")
    closed_nearest: Optional[StationHit] = Field(..., description="none_open 时：最近的那个，及何时开门")
    radius_m: int
    at: datetime


class NotCourier(Out):
    courier: Literal[False]


class Courier(Out):
    courier: Literal[True]
    company: str
    since: Optional[datetime] = Field(..., description="登记时间")


class CourierStatus(Variants):
    """Not registered ({"courier": false}) or registered (with company and since)."""

    __root__: Union[Courier, NotCourier]
