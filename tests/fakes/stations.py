"""In-memory twins of storage/stations.py's StationRepository and CourierRegistry."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any

from storage.scope import OutOfScope, in_scope, scoped
from storage.stations import Station
from tests.fakes.query import apply_update, distance_m, matches, sort_docs, stored


def _now() -> datetime:
    return stored(datetime.now(timezone.utc))


class FakeStationRepository:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        return None

    def _find(self, query: dict[str, Any], order: list[tuple[str, int]] | None = None) -> list[dict[str, Any]]:
        return sort_docs((d for d in self.docs.values() if matches(d, query)), order)

    async def upsert(self, doc: dict[str, Any], *, only_insert: bool = False,
                     scope: dict[str, Any] | None = None) -> bool:
        before, _ = await self.upsert_doc(doc, only_insert=only_insert, scope=scope)
        return before is None

    async def upsert_doc(self, doc: dict[str, Any], *, only_insert: bool = False,
                         scope: dict[str, Any] | None = None) -> tuple[dict[str, Any] | None, dict[str, Any]]:
        now = _now()
        fields = {k: v for k, v in doc.items() if k not in ("_id", "created_at")}
        fields["updated_at"] = now
        if fields.get("community") is not None and not in_scope(scope or {}, fields["community"]):
            raise OutOfScope(f"cannot move a record to community {fields['community']!r}")
        found = self._find(scoped({"_id": doc["_id"]}, scope or {}))
        if not found:
            name_taken = any(d.get("community") == fields.get("community") and d.get("name") == fields.get("name")
                             for d in self.docs.values())
            if doc["_id"] in self.docs or name_taken:  # the unique _id / (community, name) indexes
                raise OutOfScope(f"station {doc['_id']!r} lies outside this scope")
            self.docs[doc["_id"]] = stored({"_id": doc["_id"], **fields, "created_at": now})
            return None, {"_id": doc["_id"], **fields, "created_at": now}
        before = stored(found[0])
        if not only_insert:
            apply_update(found[0], {"$set": fields})
        return before, before if only_insert else {**before, **fields}

    async def get(self, station_id_: str, scope: dict[str, Any] | None = None) -> Station | None:
        doc = await self.get_doc(station_id_, scope)
        return Station.from_doc(doc) if doc else None

    async def get_doc(self, station_id_: str, scope: dict[str, Any] | None = None) -> dict[str, Any] | None:
        found = self._find(scoped({"_id": str(station_id_)}, scope or {}))
        return stored(found[0]) if found else None

    async def id_for(self, community: str, name: str) -> str | None:
        found = self._find({"community": community, "name": name})
        return str(found[0]["_id"]) if found else None

    async def nearest(self, latitude: float, longitude: float, *, query: dict[str, Any] | None = None,
                      max_distance_m: float | None = None, limit: int = 3) -> list[Station]:
        here = [float(longitude), float(latitude)]
        hits = []
        for doc in self._find({"active": True, **(query or {})}):
            distance = distance_m(here, doc["location"]["coordinates"])
            if max_distance_m is None or distance <= float(max_distance_m):
                hits.append({**stored(doc), "distance_m": distance})
        hits.sort(key=lambda d: d["distance_m"])
        return [Station.from_doc(d) for d in hits[:int(limit)]]

    async def match_place(self, text: str, limit: int = 20) -> list[Station]:
        pattern = re.escape(text)
        query = {"active": True, "$or": [{"name": {"$regex": pattern}}, {"address": {"$regex": pattern}}]}
        return [Station.from_doc(stored(d)) for d in self._find(query)[:limit]]

    async def community_anchor(self, community: str) -> Station | None:
        for query in ({"community": community, "kind": "centre"}, {"community": community}):
            found = self._find({**query, "active": True}, [("_id", 1)])
            if found:
                return Station.from_doc(stored(found[0]))
        return None

    async def list(self, scope: dict[str, Any], *, community: str | None = None, limit: int = 500) -> list[Station]:
        query: dict[str, Any] = {"community": community} if community else {}
        order = [("community", 1), ("kind", 1), ("name", 1)]
        return [Station.from_doc(stored(d)) for d in self._find(scoped(query, scope), order)[:limit]]

    async def update(self, station_id_: str, scope: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any] | None:
        found = self._find(scoped({"_id": str(station_id_)}, scope))
        if not found:
            return None
        apply_update(found[0], {"$set": {**changes, "updated_at": _now()}})
        return stored(found[0])

    async def count(self) -> int:
        return len(self.docs)


class FakeCourierRegistry:
    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def register(self, resident_id: str, community: str, company: str = "") -> dict[str, Any]:
        now = _now()
        doc = self.docs.setdefault(str(resident_id), {"_id": str(resident_id), "since": now})
        doc.update(resident_id=str(resident_id), company=company[:20], community=community, active=True,
                   updated_at=now)
        return stored(doc)

    async def unregister(self, resident_id: str) -> bool:
        doc = self.docs.get(str(resident_id))
        if not doc or not doc.get("active"):
            return False
        doc.update(active=False, updated_at=_now())
        return True

    async def get(self, resident_id: str) -> dict[str, Any] | None:
        doc = self.docs.get(str(resident_id))
        return stored(doc) if doc and doc.get("active") else None

    async def is_courier(self, resident_id: str | None) -> bool:
        return bool(resident_id) and await self.get(str(resident_id)) is not None
