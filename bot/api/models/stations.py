"""Requests and responses of the stations API (爱心驿站 / 能量栈, 快递外卖小哥登记).

Also the query-string field types the foundation does not have yet (`query_integer`,
`query_number`, `query_flag`: a query parameter is always a string, which the strict
body types refuse) and `SingleQuery` (each parameter at most once; optionally no
parameters the model does not know). The bookings models use them too.
"""
from __future__ import annotations

import math
import re
from datetime import datetime
from typing import Any, ClassVar, Literal, Optional, Union

from aiohttp import web
from pydantic import ConstrainedFloat, ConstrainedInt, Field, validator
from pydantic.errors import BoolError, FloatError, IntegerError

from bot.api.models.base import Body, FieldProblem, Out, Query, invalid, one_of, text
from bot.errors import ApiError
from services.opening_hours import format_hours
from services.stations import DEFAULT_RADIUS_M, MAX_RADIUS_M, Hit
from storage.stations import AMENITIES, KINDS, Station as StationRecord

MAX_LIMIT = 20


# ---- query-string field types (to be merged into bot.api.models.base) --------------------

_INTEGER = re.compile(r"[+-]?[0-9]+")


def _int_from_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise IntegerError()
    if isinstance(value, str):
        if not _INTEGER.fullmatch(value):
            raise IntegerError()
        return int(value)
    return value


class _QueryInteger(ConstrainedInt):
    strict = True

    @classmethod
    def __get_validators__(cls):  # type: ignore[override]
        yield _int_from_text
        yield from super().__get_validators__()


def query_integer(*, ge: int | None = None, le: int | None = None) -> type[int]:
    """An integer query parameter ("12"; not "1.5", not "1e3")."""
    return type("QueryInteger", (_QueryInteger,), {"ge": ge, "le": le})


def _float_from_text(value: Any) -> Any:
    if isinstance(value, bool):
        raise FloatError()
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise FloatError() from None
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        raise FloatError()
    return value


class _QueryNumber(ConstrainedFloat):
    allow_inf_nan = False

    @classmethod
    def __get_validators__(cls):  # type: ignore[override]
        yield _float_from_text
        yield from super().__get_validators__()


def query_number(*, ge: float | None = None, le: float | None = None) -> type[float]:
    """A finite number query parameter ("22.5486")."""
    return type("QueryNumber", (_QueryNumber,), {"ge": ge, "le": le})


_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


class QueryFlag:
    """A boolean query parameter: 1/true/yes or 0/false/no (any case)."""

    @classmethod
    def __get_validators__(cls):
        yield cls.validate

    @classmethod
    def __modify_schema__(cls, field_schema: dict[str, Any]) -> None:
        field_schema.update(type="boolean")

    @classmethod
    def validate(cls, value: Any) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE:
            return True
        if isinstance(value, str) and value.lower() in _FALSE:
            return False
        raise BoolError()


class SingleQuery(Query):
    """Query parameters each given at most once (`invalid_<name>` otherwise); with
    `closed = True` a parameter the model does not know is refused (`invalid_query`)."""

    closed: ClassVar[bool] = False

    @classmethod
    def parse_request(cls, request: web.Request):  # type: ignore[override]
        names = [field.alias for field in cls.__fields__.values()]
        if cls.closed:
            unknown = sorted(set(request.query) - set(names))
            if unknown:
                raise ApiError(400, "invalid_query", f"不支持的参数：{', '.join(unknown)}",
                               f"unknown parameters: {', '.join(unknown)}")
        for name in names:
            if len(request.query.getall(name, [])) > 1:
                raise invalid(name, "只能出现一次", "given more than once")
        return super().parse_request(request)


# ---- requests ----------------------------------------------------------------------------

class NearbyQuery(SingleQuery):
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


class StationQuery(SingleQuery):
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


def _one_of_schema(schema: dict[str, Any], model: type[Out]) -> None:
    """A variants model's schema: `oneOf` its variants (each refuses the others' fields)."""
    schema.pop("title", None)
    schema.pop("description", None)
    schema.pop("additionalProperties", None)
    if "anyOf" in schema:
        schema["oneOf"] = schema.pop("anyOf")


class Variants(Out):
    """A response that is one of several models (`__root__: Union[...]`), for the document
    only: the handler sends the variant itself."""

    class Config:
        schema_extra = staticmethod(_one_of_schema)


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
