"""Finding stations (附近的爱心驿站 / 能量栈) and couriers' points (CSV import: services/station_import.py).

`StationService.nearby` answers "which stations near here are open now and have X": the
database does the work ($geoNear on the 2dsphere index, with the amenity and the
open-now filter), the clock is injectable. When nothing matches it says why: nothing
with that amenity in reach, or nothing open now (then: the nearest one and when it opens).
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Iterable

from services import events
from services.opening_hours import (
    WhenText, always, format_hours, is_open, next_opening, open_now_filter, open_until,
)
from storage.stations import CourierRegistry, Station, StationRepository

Clock = Callable[[], datetime]
DEFAULT_RADIUS_M = 3000
MAX_RADIUS_M = 20000
WALK_METRES_PER_MINUTE = 75  # about 4.5 km/h
COURIER_REPORT = events.COURIER_REPORT

# Words residents use for each amenity (the NLU entity comes first).
AMENITY_WORDS: list[tuple[str, str]] = [
    ("charging", r"充电|电动车没电|手机没电|没电了|电瓶|换电"),
    ("microwave", r"微波炉|热饭|热一下|加热|热菜"),
    ("medicine", r"药|急救|创可贴|中暑|受伤|医药箱"),
    ("raincoat", r"雨衣|雨伞|避雨|下雨|雨具"),
    ("toilet", r"厕所|卫生间|洗手间|上个厕所|方便一下"),
    ("water", r"喝水|饮水|热水|开水|渴|水"),
    ("rest", r"歇脚|休息|坐一下|坐坐|乘凉|空调|累|歇一歇|歇会"),
]
DIRECTIONS = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")


def amenity_from_text(text: str) -> str | None:
    """The amenity a message asks for, by keyword."""
    for code, pattern in AMENITY_WORDS:
        if re.search(pattern, text or ""):
            return code
    return None


def haversine_m(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    r = 6378100.0  # the radius MongoDB's spherical distances use
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * r * math.asin(math.sqrt(h))


def direction(lat1: float, lng1: float, lat2: float, lng2: float) -> str:
    """Compass direction from point 1 to point 2, in Chinese (东北, 南, ...)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lng2 - lng1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    bearing = (math.degrees(math.atan2(x, y)) + 360) % 360
    return DIRECTIONS[int((bearing + 22.5) // 45) % 8]


@dataclass
class Hit:
    """A station found near a point, with what to tell the person looking."""

    station: Station
    distance_m: float
    direction: str
    open_now: bool
    closes: WhenText | None = None  # open now, closes then (None: 24h)
    opens: WhenText | None = None  # closed now, opens then

    @property
    def walk_minutes(self) -> int:
        return max(1, math.ceil(self.distance_m / WALK_METRES_PER_MINUTE))

    @property
    def distance_text(self) -> str:
        if self.distance_m < 1000:
            return f"{max(10, int(round(self.distance_m, -1)))}米"
        return f"{self.distance_m / 1000:.1f}公里"

    @property
    def walk_text(self) -> str:
        if self.distance_m < 50:
            return "就在附近"
        return f"往{self.direction}走约{self.walk_minutes}分钟"

    @property
    def hours_text(self) -> str:
        if self.open_now:
            return "24小时开放" if self.closes is None else f"开到{self.closes}"
        return f"{self.opens}开门" if self.opens else "暂停开放"

    def as_dict(self) -> dict[str, Any]:
        return {
            **station_dict(self.station),
            "distance_m": round(self.distance_m),
            "walk_minutes": self.walk_minutes,
            "direction": self.direction,
            "walk_hint": self.walk_text,
            "open_now": self.open_now,
            "status_text": self.hours_text,
        }


@dataclass
class Nearby:
    """The answer to "stations near here": hits, or why there are none."""

    hits: list[Hit]
    amenity: str | None
    radius_m: int
    # When hits is empty: the nearest station with the amenity that is closed now
    # (None: none with the amenity within the radius).
    closed_nearest: Hit | None = None

    @property
    def reason(self) -> str | None:
        if self.hits:
            return None
        return "none_open" if self.closed_nearest else "none_with_amenity"


def station_dict(station: Station) -> dict[str, Any]:
    """A station as the API and templates show it."""
    return {
        "id": station.id, "name": station.name, "kind": station.kind, "kind_name": station.kind_name,
        "address": station.address, "location": {"lat": station.latitude, "lng": station.longitude},
        "amenities": station.amenities, "amenity_names": station.amenity_names,
        "hours": station.hours, "hours_text": format_hours(station.hours), "phone": station.phone,
        "community": station.community, "note": station.note, "demo": station.demo,
    }


class StationService:
    def __init__(self, repo: StationRepository, couriers: CourierRegistry | None = None,
                 clock: Clock | None = None, *, bus: events.EventBus) -> None:
        self.repo = repo
        self.couriers = couriers
        self.bus = bus
        self.clock: Clock = clock or (lambda: datetime.now(timezone.utc))

    # -- what the web layer reads and staff change (the repositories stay behind) ---------
    async def station(self, station_id: str, scope: dict[str, Any] | None = None) -> Station | None:
        return await self.repo.get(station_id, scope)

    async def station_doc(self, station_id: str, scope: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return await self.repo.get_doc(station_id, scope)

    async def stations_in_scope(self, scope: dict[str, Any]) -> list[Station]:
        return await self.repo.list(scope)

    async def station_id_for(self, community: str, name: str) -> str | None:
        return await self.repo.id_for(community, name)

    async def add_station(self, doc: dict[str, Any], scope: dict[str, Any]) -> Any:
        return await self.repo.upsert(doc, scope=scope)

    async def update_station(self, station_id: str, scope: dict[str, Any],
                             changes: dict[str, Any]) -> dict[str, Any] | None:
        return await self.repo.update(station_id, scope, changes)

    @property
    def takes_couriers(self) -> bool:
        """Whether couriers can register here (a courier registry is wired)."""
        return self.couriers is not None

    async def is_courier(self, resident_id: str) -> bool:
        return self.couriers is not None and await self.couriers.is_courier(resident_id)

    async def courier(self, resident_id: str) -> dict[str, Any] | None:
        return await self.couriers.get(resident_id)

    async def register_courier(self, resident_id: str, community: str, company: str = "") -> dict[str, Any]:
        return await self.couriers.register(resident_id, community, company)

    async def unregister_courier(self, resident_id: str) -> bool:
        return await self.couriers.unregister(resident_id)


    def now(self) -> datetime:
        return self.clock()

    def hit(self, station: Station, latitude: float, longitude: float, moment: datetime) -> Hit:
        distance = station.distance_m
        if distance is None:
            distance = haversine_m(latitude, longitude, station.latitude, station.longitude)
        open_ = is_open(station.open_week, moment)
        return Hit(
            station=station, distance_m=float(distance),
            direction=direction(latitude, longitude, station.latitude, station.longitude),
            open_now=open_,
            closes=open_until(station.open_week, moment) if open_ and not always(station.open_week) else None,
            opens=None if open_ else next_opening(station.open_week, moment),
        )

    async def nearby(
        self,
        latitude: float,
        longitude: float,
        *,
        amenity: str | None = None,
        amenities: Iterable[str] = (),
        kind: str | None = None,
        open_now: bool = True,
        limit: int = 3,
        radius_m: int = DEFAULT_RADIUS_M,
    ) -> Nearby:
        """The `limit` nearest stations within `radius_m` (open now, with the amenities)."""
        wanted = [a for a in ([amenity] if amenity else []) + list(amenities) if a]
        query: dict[str, Any] = {}
        if wanted:
            query["amenities"] = {"$all": sorted(set(wanted))}
        if kind:
            query["kind"] = kind
        moment = self.now()
        filtered = {**query, **open_now_filter(moment)} if open_now else query
        stations = await self.repo.nearest(latitude, longitude, query=filtered, max_distance_m=radius_m, limit=limit)
        result = Nearby([self.hit(s, latitude, longitude, moment) for s in stations], amenity, radius_m)
        if not stations and open_now:
            closed = await self.repo.nearest(latitude, longitude, query=query, max_distance_m=radius_m, limit=1)
            if closed:
                result.closed_nearest = self.hit(closed[0], latitude, longitude, moment)
        return result

    async def place(self, text: str) -> Station | None:
        """The station that best matches a place name (its name, else its address)."""
        text = _GENERIC_PLACE.sub("", clean_place(text))
        if len(text) < 2:
            return None
        matches = await self.repo.match_place(text)
        if not matches:
            return None

        def rank(station: Station) -> tuple:
            return (text not in station.name, station.kind != "centre", len(station.name), station.id)

        return sorted(matches, key=rank)[0]

    async def community_anchor(self, community: str) -> Station | None:
        return await self.repo.community_anchor(community)

    # -- couriers ----------------------------------------------------------------------

    async def on_report_valid(self, event: events.ReportValid) -> None:
        """events subscriber: a courier's valid report also earns the courier service points."""
        if self.couriers is None or not await self.couriers.is_courier(event.resident_id):
            return
        await self.bus.publish(events.CourierReport(
            ref=event.ticket, ticket=event.ticket, resident_id=event.resident_id, user_key=event.user_key,
            community=event.community, category=event.category, at=event.at,
        ))


_PLACE_NOISE = re.compile(r"^(?:我在|我现在在|现在在|在|我到了|到了|我位置是|位置是|位置|地址是|靠近)|(?:附近|旁边|这边|那边|这里|那里|周边|一带|门口|路口|口)$")


# Words every station name has: not a place by themselves.
_GENERIC_PLACE = re.compile(r"爱心驿站|暖蜂驿站|驿站|能量栈|党群服务中心|服务中心|社区|演示|附近|哪里|哪儿")


def clean_place(text: str) -> str:
    text = re.sub(r"[\s，,。.!！?？]+", "", text or "")
    for _ in range(3):
        stripped = _PLACE_NOISE.sub("", text)
        if stripped == text:
            break
        text = stripped
    return text[:30]
