"""Finding stations (附近的爱心驿站 / 能量栈), importing them from CSV, couriers' points.

`StationService.nearby` answers "which stations near here are open now and have X": the
database does the work ($geoNear on the 2dsphere index, with the amenity and the
open-now filter), the clock is injectable. When nothing matches it says why: nothing
with that amenity in reach, or nothing open now (then: the nearest one and when it opens).

CSV import (`import_rows`): one station per row, row-level errors with row numbers,
valid rows upserted (by `code`, else by community + name).
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from services import events
from services.opening_hours import (
    HoursError, WhenText, always, format_hours, is_open, next_opening, open_now_filter, open_until,
    parse_hours, validate_hours, week_intervals,
)
from storage.communities import CommunityRepository
from storage.scope import OutOfScope, in_scope
from storage.stations import AMENITIES, CourierRegistry, Station, StationRepository, point, station_id

Clock = Callable[[], datetime]
DEFAULT_RADIUS_M = 3000
MAX_RADIUS_M = 20000
WALK_METRES_PER_MINUTE = 75  # about 4.5 km/h
DEMO_CSV = Path(__file__).resolve().parent.parent / "storage" / "data" / "stations_demo.csv"
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
_AMENITY_NAMES = {name: code for code, name in AMENITIES.items()}
_KIND_WORDS = {"centre": "centre", "党群服务中心": "centre", "服务中心": "centre", "中心": "centre",
               "爱心驿站": "centre", "energy": "energy", "能量栈": "energy", "驿站": "energy"}
_SPLIT = re.compile(r"[|、,，;；/\s]+")
_PHONE = re.compile(r"^[0-9+\-() ]{5,20}$")
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")
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


# -- CSV import -----------------------------------------------------------------------

COLUMNS: dict[str, str] = {
    "code": "code", "编号": "code", "id": "code",
    "name": "name", "名称": "name", "站点名称": "name",
    "kind": "kind", "类型": "kind",
    "address": "address", "地址": "address",
    "latitude": "latitude", "lat": "latitude", "纬度": "latitude",
    "longitude": "longitude", "lng": "longitude", "lon": "longitude", "经度": "longitude",
    "amenities": "amenities", "设施": "amenities", "服务": "amenities",
    "hours": "hours", "开放时间": "hours", "营业时间": "hours",
    "phone": "phone", "电话": "phone",
    "community": "community", "社区": "community",
    "note": "note", "备注": "note",
    "active": "active", "启用": "active",
}
REQUIRED = ("name", "kind", "address", "latitude", "longitude", "amenities", "hours", "community")
FIELD_NAMES = {"name": "名称", "kind": "类型", "address": "地址", "latitude": "纬度", "longitude": "经度",
               "amenities": "设施", "hours": "开放时间", "community": "社区"}


@dataclass
class RowError:
    row: int  # line number in the file (the header is row 1)
    message: str


@dataclass
class StationChange:
    """One station an import wrote: its id and the document before (None: new) and after."""
    id: str
    before: dict[str, Any] | None
    after: dict[str, Any]


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)
    changes: list[StationChange] = field(default_factory=list)

    @property
    def imported(self) -> int:
        return self.created + self.updated


def read_csv(data: bytes) -> list[dict[str, str]]:
    """Rows of a CSV file (UTF-8 with or without BOM, or GB18030 as Excel saves it),
    keyed by our column names. Raises ValueError for an unusable header."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise ValueError("文件编码无法识别，请另存为 UTF-8 的 CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise ValueError("文件是空的")
    names = [COLUMNS.get(h.strip().lower(), COLUMNS.get(h.strip(), "")) for h in header]
    missing = [FIELD_NAMES[c] for c in REQUIRED if c not in names]
    if missing:
        raise ValueError(f"缺少列：{'、'.join(missing)}")
    rows = []
    for values in reader:
        if not any(v.strip() for v in values):
            rows.append({})  # blank line: kept so row numbers stay right
            continue
        row = {name: value.strip() for name, value in zip(names, values) if name}
        if len(values) > len(names):
            row["__extra__"] = "1"
        rows.append(row)
    return rows


def _amenities(text: str) -> list[str]:
    codes = []
    for part in _SPLIT.split(text):
        if not part:
            continue
        code = part.lower() if part.lower() in AMENITIES else _AMENITY_NAMES.get(part) or amenity_from_text(part)
        if code is None:
            raise ValueError(f"不认识的设施“{part}”（可用：{'、'.join(AMENITIES.values())}）")
        if code not in codes:
            codes.append(code)
    if not codes:
        raise ValueError("请填写至少一项设施")
    return codes


def _coordinate(text: str, name: str, low: float, high: float) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}“{text}”不是数字") from None
    if not (low <= value <= high) or math.isnan(value):
        raise ValueError(f"{name}“{text}”超出范围（{low}~{high}）")
    return value


def build_station(row: dict[str, str], communities: dict[str, str]) -> dict[str, Any]:
    """A station document from one CSV row or console form; ValueError with a Chinese
    message for the first problem found. `communities` maps ids and names to ids."""
    if row.get("__extra__"):
        raise ValueError("这一行的列数比表头多（地址或开放时间里有英文逗号时请加引号）")
    missing = [FIELD_NAMES[c] for c in REQUIRED if not row.get(c)]
    if missing:
        raise ValueError(f"缺少：{'、'.join(missing)}")
    name = row["name"][:60]
    kind = _KIND_WORDS.get(row["kind"].strip().lower(), _KIND_WORDS.get(row["kind"].strip()))
    if kind is None:
        raise ValueError(f"类型“{row['kind']}”不对（填 党群服务中心 或 能量栈）")
    community = communities.get(row["community"])
    if community is None:
        raise ValueError(f"社区“{row['community']}”不存在")
    latitude = _coordinate(row["latitude"], "纬度", -90, 90)
    longitude = _coordinate(row["longitude"], "经度", -180, 180)
    if abs(latitude) < 1e-9 and abs(longitude) < 1e-9:
        raise ValueError("经纬度不能是 0,0")
    try:
        hours = parse_hours(row["hours"])
    except HoursError as exc:
        raise ValueError(f"开放时间：{exc}") from None
    phone = row.get("phone", "")
    if phone and not _PHONE.match(phone):
        raise ValueError(f"电话“{phone}”格式不对")
    code = row.get("code", "")
    if code and not _CODE.match(code):
        raise ValueError(f"编号“{code}”只能用字母、数字和 _.-")
    active = row.get("active", "").strip().lower() not in ("0", "否", "false", "no", "停用")
    return {
        "_id": code or station_id(community, name),
        "name": name,
        "kind": kind,
        "address": row["address"][:120],
        "location": point(latitude, longitude),
        "amenities": _amenities(row["amenities"]),
        "hours": hours,
        "open_week": week_intervals(hours),
        "phone": phone,
        "community": community,
        "active": active,
        "note": row.get("note", "")[:200],
        "demo": "演示" in row.get("note", ""),
    }


def station_fields(hours: Any) -> dict[str, Any]:
    """hours and open_week for a validated Hours value (console edits)."""
    clean = validate_hours(hours)
    return {"hours": clean, "open_week": week_intervals(clean)}


async def community_ids(db: Any) -> dict[str, str]:
    """Community ids and names (田面社区 and 田面) -> id."""
    lookup: dict[str, str] = {}
    for community, name in (await CommunityRepository(db).names()).items():
        lookup[community] = community
        if name:
            lookup[name] = community
            lookup.setdefault(name.removesuffix("社区"), community)
    return lookup


def numbered(rows: list[dict[str, str]]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number in the file, row) of the non-blank rows; the header is row 1."""
    for index, row in enumerate(rows, start=2):
        if row:
            yield index, row


async def import_rows(
    repo: StationRepository,
    rows: list[dict[str, str]],
    communities: dict[str, str],
    *,
    only_insert: bool = False,
    dry_run: bool = False,
    scope: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Upsert the valid rows; each bad row is reported with its row number and skipped.
    `scope` (storage.scope) limits the rows to a staff member's communities: a row
    naming another community, or the 编号 of another community's station, is refused,
    and the write itself is scoped. Each write is kept in `result.changes` (for the
    audit trail); `dry_run` only checks."""
    result = ImportResult()
    seen: dict[str, int] = {}
    for number, row in numbered(rows):
        try:
            doc = build_station(row, communities)
            if scope is not None and not in_scope(scope, doc["community"]):
                raise ValueError("这个社区不在您的管辖范围内")
            if not row.get("code"):  # keep the id a station already has
                doc["_id"] = await repo.id_for(doc["community"], doc["name"]) or doc["_id"]
            if doc["_id"] in seen:
                raise ValueError(f"与第 {seen[doc['_id']]} 行是同一个站点")
            existing = await repo.id_for(doc["community"], doc["name"])
            if existing is not None and existing != doc["_id"]:
                raise ValueError(f"本社区已有同名站点（编号 {existing}）")
            current = await repo.get_doc(doc["_id"])
            if scope is not None and current is not None and not in_scope(scope, current.get("community")):
                raise ValueError(f"编号 {doc['_id']} 是其他社区的站点，不能修改")
            seen[doc["_id"]] = number
            if dry_run:
                if current is None:
                    result.created += 1
                else:
                    result.updated += 1
                continue
            try:
                before, after = await repo.upsert_doc(doc, only_insert=only_insert, scope=scope)
            except OutOfScope:
                raise ValueError(f"编号 {doc['_id']} 是其他社区的站点，不能修改") from None
            if before is None:
                result.created += 1
            else:
                result.updated += 1
            if before is None or not only_insert:
                result.changes.append(StationChange(doc["_id"], before, after))
        except ValueError as exc:
            result.errors.append(RowError(number, str(exc)))
        finally:
            if progress is not None:
                progress(1)
    return result


async def seed_demo_stations(db: Any) -> ImportResult:
    """The demo stations of 华富街道 (storage/data/stations_demo.csv); never overwrites."""
    repo = StationRepository(db)
    rows = read_csv(DEMO_CSV.read_bytes())
    return await import_rows(repo, rows, await community_ids(db), only_insert=True)
