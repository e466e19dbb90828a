"""Stations (爱心驿站 / 能量栈) where couriers and residents can rest, drink, charge.

One document per station:
    _id, name, kind ("centre" 党群服务中心 | "energy" 能量栈), address,
    location (GeoJSON Point [lng, lat], 2dsphere index), amenities (contract codes),
    hours {"mon": [["09:00", "18:00"], ...], ...} (Asia/Shanghai), open_week (the same as
    minutes of the week, for the "open now" filter), phone, community, active, note,
    demo, created_at, updated_at.

Nearest-first search uses the `$geoNear` aggregation stage on the 2dsphere index: it
sorts by distance and reports it; the search radius is a `$geoWithin` filter in its
query. (secantusdb 0.7.0b3 accepts `$near` but returns its matches unsorted, so `$near`
is not used.)

Couriers (快递/外卖小哥) who registered live in `couriers` (one per resident): reports
they make earn service points (services/stations.py).
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel, ReturnDocument

from pymongo.errors import DuplicateKeyError

from storage.scope import OutOfScope, Scoped, scoped

COLLECTION = "stations"
EARTH_RADIUS_M = 6378100.0  # the radius MongoDB's spherical distances use
COURIERS = "couriers"

AMENITIES: dict[str, str] = {
    "charging": "充电",
    "water": "饮水",
    "rest": "歇脚",
    "toilet": "厕所",
    "microwave": "热饭",
    "medicine": "应急药品",
    "raincoat": "雨衣",
}
KINDS: dict[str, str] = {"centre": "党群服务中心", "energy": "能量栈"}


def station_id(community: str, name: str) -> str:
    """A stable id for a station without one (same community + name -> same id)."""
    digest = hashlib.sha1(f"{community}|{name}".encode("utf-8")).hexdigest()[:12]
    return f"st-{digest}"


def point(latitude: float, longitude: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [float(longitude), float(latitude)]}


@dataclass
class Station:
    id: str
    name: str
    kind: str
    address: str
    latitude: float
    longitude: float
    amenities: list[str]
    hours: dict[str, list[list[str]]]
    open_week: list[dict[str, int]]
    community: str
    phone: str = ""
    active: bool = True
    note: str = ""
    demo: bool = False
    distance_m: float | None = None  # set by nearest-first searches
    updated_at: datetime | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Station":
        lng, lat = doc["location"]["coordinates"]
        return cls(
            id=str(doc["_id"]), name=doc["name"], kind=doc.get("kind", "energy"), address=doc.get("address", ""),
            latitude=float(lat), longitude=float(lng), amenities=list(doc.get("amenities", [])),
            hours=dict(doc.get("hours") or {}), open_week=list(doc.get("open_week") or []),
            community=doc.get("community", ""), phone=doc.get("phone") or "", active=bool(doc.get("active", True)),
            note=doc.get("note") or "", demo=bool(doc.get("demo", False)), distance_m=doc.get("distance_m"),
            updated_at=doc.get("updated_at"),
        )

    @property
    def kind_name(self) -> str:
        return KINDS.get(self.kind, self.kind)

    @property
    def amenity_names(self) -> list[str]:
        return [AMENITIES.get(code, code) for code in self.amenities]


class StationRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self.db = db
        self._col = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes([
            # The version spelled out: secantusdb refuses to re-create the index otherwise.
            IndexModel([("location", "2dsphere")], name="location_2dsphere", **{"2dsphereIndexVersion": 3}),
            IndexModel([("community", ASCENDING), ("name", ASCENDING)], name="community_name", unique=True),
            IndexModel([("kind", ASCENDING)], name="kind"),
        ])

    async def upsert(self, doc: dict[str, Any], *, only_insert: bool = False,
                     scope: dict[str, Any] | None = None) -> bool:
        """Insert or replace the station's fields by `_id`; True when it was new.
        `only_insert` leaves an existing station as it is (demo seeding). With a staff
        `scope` the write goes through `Scoped`: a station of another community is
        neither changed nor moved (OutOfScope)."""
        before, _ = await self.upsert_doc(doc, only_insert=only_insert, scope=scope)
        return before is None

    async def upsert_doc(self, doc: dict[str, Any], *, only_insert: bool = False,
                         scope: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        """`upsert`, returning the station before (None: it is new) and after the write."""
        now = datetime.now(timezone.utc)
        fields = {k: v for k, v in doc.items() if k not in ("_id", "created_at")}
        fields["updated_at"] = now
        if only_insert:
            update = {"$setOnInsert": {**fields, "created_at": now}}
        else:
            update = {"$set": fields, "$setOnInsert": {"created_at": now}}
        col = Scoped(self._col, scope or {})
        try:
            before = await col.find_one_and_update(
                {"_id": doc["_id"]}, update, upsert=True, return_document=ReturnDocument.BEFORE
            )
        except DuplicateKeyError:  # the id exists outside the scope (the scoped filter missed it)
            raise OutOfScope(f"station {doc['_id']!r} lies outside this scope") from None
        if before is None:
            return None, {"_id": doc["_id"], **fields, "created_at": now}
        return before, before if only_insert else {**before, **fields}

    async def get(self, station_id_: str, scope: dict[str, Any] | None = None) -> Station | None:
        doc = await self._col.find_one(scoped({"_id": str(station_id_)}, scope or {}))
        return Station.from_doc(doc) if doc else None

    async def get_doc(self, station_id_: str, scope: dict[str, Any] | None = None) -> dict[str, Any] | None:
        return await self._col.find_one(scoped({"_id": str(station_id_)}, scope or {}))

    async def id_for(self, community: str, name: str) -> str | None:
        """The id of the station called `name` in `community`, if there is one."""
        doc = await self._col.find_one({"community": community, "name": name}, {"_id": 1})
        return str(doc["_id"]) if doc else None

    async def nearest(
        self,
        latitude: float,
        longitude: float,
        *,
        query: dict[str, Any] | None = None,
        max_distance_m: float | None = None,
        limit: int = 3,
    ) -> list[Station]:
        """Active stations matching `query`, nearest first, with `distance_m` set."""
        filters: dict[str, Any] = {"active": True, **(query or {})}
        if max_distance_m is not None:
            # The radius as a $geoWithin filter rather than `maxDistance`: the same
            # stations, and secantusdb answers it ~6x faster (maxDistance: ~60 ms for
            # 20 stations on a loaded 2-core machine; this: ~10 ms).
            filters["location"] = {"$geoWithin": {"$centerSphere": [[float(longitude), float(latitude)],
                                                                  float(max_distance_m) / EARTH_RADIUS_M]}}
        stage: dict[str, Any] = {
            "near": point(latitude, longitude),
            "distanceField": "distance_m",
            "key": "location",
            "spherical": True,
            "query": filters,
        }
        pipeline = [{"$geoNear": stage}, {"$limit": int(limit)}]
        docs = await self._col.aggregate(pipeline).to_list(limit)
        return [Station.from_doc(doc) for doc in docs]

    async def match_place(self, text: str, limit: int = 20) -> list[Station]:
        """Active stations whose name or address contains `text` (a place name)."""
        pattern = re.escape(text)
        query = {"active": True, "$or": [{"name": {"$regex": pattern}}, {"address": {"$regex": pattern}}]}
        docs = await self._col.find(query).limit(limit).to_list(limit)
        return [Station.from_doc(doc) for doc in docs]

    async def community_anchor(self, community: str) -> Station | None:
        """Where a community is: its party-service centre, else any of its stations."""
        for query in ({"community": community, "kind": "centre"}, {"community": community}):
            doc = await self._col.find_one({**query, "active": True}, sort=[("_id", ASCENDING)])
            if doc:
                return Station.from_doc(doc)
        return None

    async def list(self, scope: dict[str, Any], *, community: str | None = None, limit: int = 500) -> list[Station]:
        query: dict[str, Any] = {"community": community} if community else {}
        order = [("community", ASCENDING), ("kind", ASCENDING), ("name", ASCENDING)]
        cursor = self._col.find(scoped(query, scope)).sort(order)
        return [Station.from_doc(doc) for doc in await cursor.limit(limit).to_list(limit)]

    async def update(self, station_id_: str, scope: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
        """Set `changes` on a station within `scope`; the document after, or None."""
        changes = {**changes, "updated_at": datetime.now(timezone.utc)}
        return await self._col.find_one_and_update(
            scoped({"_id": str(station_id_)}, scope), {"$set": changes}, return_document=ReturnDocument.AFTER
        )

    async def count(self) -> int:
        return await self._col.count_documents({})


class CourierRegistry:
    """Residents who said they deliver parcels or meals (self-declared, one per resident)."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db[COURIERS]

    async def ensure_indexes(self) -> None:
        await self._col.create_index("community", name="community")

    async def register(self, resident_id: str, community: str, company: str = "") -> dict[str, Any]:
        now = datetime.now(timezone.utc)
        return await self._col.find_one_and_update(
            {"_id": str(resident_id)},
            {"$set": {"resident_id": str(resident_id), "company": company[:20], "community": community,
                      "active": True, "updated_at": now},
             "$setOnInsert": {"since": now}},
            upsert=True, return_document=ReturnDocument.AFTER,
        )

    async def unregister(self, resident_id: str) -> bool:
        result = await self._col.update_one(
            {"_id": str(resident_id), "active": True},
            {"$set": {"active": False, "updated_at": datetime.now(timezone.utc)}},
        )
        return result.modified_count == 1

    async def get(self, resident_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": str(resident_id), "active": True})

    async def is_courier(self, resident_id: str | None) -> bool:
        return bool(resident_id) and await self.get(str(resident_id)) is not None
