"""Community records (`communities`): the name and the 社区事务受理服务中心 residents are sent to.

Seeded by `storage/seed.py`; a record without the service-centre fields gets `DEFAULT_CENTRE`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase

DEFAULT_CENTRE_HOURS = "周一至周五 9:00-12:00、14:00-18:00，周六 9:00-12:00（法定节假日除外）"


@dataclass(frozen=True)
class ServiceCentre:
    name: str
    address: str | None
    hours: str


def centre_of(doc: dict[str, Any]) -> ServiceCentre:
    """The service centre a community document names; where it names none, the community's
    own 社区事务受理服务中心 with the usual hours (`DEFAULT_CENTRE_HOURS`)."""
    name = doc.get("name") or "社区"
    centre = doc.get("service_centre") or {}
    return ServiceCentre(
        name=centre.get("name") or f"{name}社区事务受理服务中心".replace("社区社区", "社区"),
        address=centre.get("address"),
        hours=centre.get("hours") or DEFAULT_CENTRE_HOURS,
    )


class CommunityRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["communities"]
        self._streets = db["streets"]

    async def name(self, community: str) -> str:
        doc = await self._col.find_one({"_id": community}, {"name": 1})
        return (doc or {}).get("name") or "社区"

    async def listed(self, limit: int = 16) -> list[tuple[str, str]]:
        """(id, name) of the communities, in id order (numbered lists in chat)."""
        docs = await self._col.find({}, {"name": 1}).sort("_id", 1).to_list(limit)
        return [(d["_id"], d.get("name") or d["_id"]) for d in docs]

    async def service_centre(self, community: str) -> ServiceCentre:
        return centre_of(await self._col.find_one({"_id": community}) or {})

    # -- reads for the web layer (bot/api, bot/console) -------------------------------------
    async def names(self, query: dict[str, Any] | None = None) -> dict[str, str]:
        """id -> name (the id where a community has no name), in id order."""
        cursor = self._col.find(query or {}, {"name": 1}).sort("_id", 1)
        return {d["_id"]: d.get("name", d["_id"]) async for d in cursor}

    async def choices(self, query: dict[str, Any] | None = None) -> list[tuple[str, str]]:
        """(id, name) pairs in id order, for a form's select."""
        return list((await self.names(query)).items())

    async def all(self) -> list[dict[str, Any]]:
        """Every community document, in id order."""
        return await self._col.find({}).sort("_id", 1).to_list(None)

    async def get(self, community: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": community})

    async def exists(self, community: str) -> bool:
        return await self._col.find_one({"_id": community}, {"_id": 1}) is not None

    async def street_names(self) -> dict[str, str]:
        """Street id -> name (the id where a street has no name), in id order."""
        cursor = self._streets.find({}, {"name": 1}).sort("_id", 1)
        return {d["_id"]: d.get("name", d["_id"]) async for d in cursor}

    async def ids(self) -> list[str]:
        """Every community id, in id order."""
        return sorted([doc["_id"] async for doc in self._col.find({}, {"_id": 1})])
