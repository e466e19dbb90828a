"""Importing stations (附近的爱心驿站 / 能量栈) from CSV and the console's station form.

`import_rows`: one station per row, row-level errors with row numbers, valid rows upserted
(by `code`, else by community + name); `build_station` checks one row or form.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from services.opening_hours import HoursError, parse_hours, validate_hours, week_intervals
from services.stations import amenity_from_text
from storage.communities import CommunityRepository
from storage.scope import OutOfScope, in_scope
from storage.stations import AMENITIES, StationRepository, point, station_id

DEMO_CSV = Path(__file__).resolve().parent.parent / "storage" / "data" / "stations_demo.csv"
_AMENITY_NAMES = {name: code for code, name in AMENITIES.items()}
_KIND_WORDS = {"centre": "centre", "党群服务中心": "centre", "服务中心": "centre", "中心": "centre",
               "爱心驿站": "centre", "energy": "energy", "能量栈": "energy", "驿站": "energy"}
_SPLIT = re.compile(r"[|、,，;；/\s]+")
_PHONE = re.compile(r"^[0-9+\-() ]{5,20}$")
_CODE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")


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


class StationImporter:
    """The console's CSV import on the stations repository (built by the bootstrap)."""

    def __init__(self, repo: StationRepository) -> None:
        self._repo = repo

    async def run(self, rows: list[dict[str, str]], communities: dict[str, str], *,
                  scope: dict[str, Any] | None = None) -> "ImportResult":
        return await import_rows(self._repo, rows, communities, scope=scope)


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
