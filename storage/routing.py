"""Report routing: which department handles a category of problem, and within how many hours.

One document per category in `report_routing` ({_id: category, department, sla_hours});
staff may edit it. Categories missing from the collection fall back to `DEFAULT_ROUTES`,
which `seed_routing` also writes (without overwriting edits).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from motor.motor_asyncio import AsyncIOMotorDatabase

# The 23 categories of the NLU contract, in menu order, with their resident-facing names.
CATEGORIES: dict[str, str] = {
    "streetlight": "路灯不亮",
    "road": "道路破损",
    "drainage": "下水道堵塞",
    "garbage": "垃圾堆放",
    "vending": "占道经营",
    "parking": "乱停乱放",
    "parcel": "快递堆放占道",
    "noise": "噪音扰民",
    "throwing": "高空抛物",
    "facility": "公共设施损坏",
    "elevator": "电梯故障",
    "fire": "消防隐患",
    "greening": "绿化问题",
    "water": "供水漏水",
    "dispute": "邻里纠纷",
    "security": "治安隐患",
    "power": "停电供电",
    "gas": "燃气问题",
    "pollution": "油烟废气污染",
    "illegal_building": "违章搭建",
    "property": "物业管理",
    "animal": "流浪动物犬只",
    "other": "其他问题",
}


@dataclass(frozen=True)
class Route:
    category: str
    department: str
    sla_hours: int

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Route":
        return cls(category=doc["_id"], department=doc["department"], sla_hours=int(doc["sla_hours"]))


DEFAULT_ROUTES: dict[str, Route] = {
    r.category: r
    for r in [
        Route("streetlight", "街道城市建设办公室（路灯）", 48),
        Route("road", "街道城市建设办公室（市政道路）", 72),
        Route("drainage", "街道水务站", 24),
        Route("garbage", "街道城市管理办公室（环卫）", 24),
        Route("vending", "街道综合行政执法队", 24),
        Route("parking", "街道综合行政执法队", 24),
        Route("parcel", "社区工作站", 24),
        Route("noise", "街道综合行政执法队", 24),
        Route("throwing", "社区警务室", 12),
        Route("facility", "社区工作站", 72),
        Route("elevator", "街道安全生产监督管理办公室（电梯）", 12),
        Route("fire", "街道消防安全委员会办公室", 12),
        Route("greening", "街道城市管理办公室（绿化）", 72),
        Route("water", "街道水务站", 24),
        Route("dispute", "社区人民调解委员会", 72),
        Route("security", "社区警务室", 12),
        Route("power", "街道城市建设办公室（供电协调）", 12),
        Route("gas", "街道安全生产监督管理办公室（燃气）", 4),
        Route("pollution", "街道生态环境保护办公室", 48),
        Route("illegal_building", "街道规划土地监察队（查违）", 72),
        Route("property", "社区工作站（物业监管）", 72),
        Route("animal", "街道城市管理办公室（犬只与流浪动物）", 48),
        Route("other", "社区工作站", 72),
    ]
}


class RoutingRepository:
    """The editable category -> department / SLA table."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["report_routing"]

    async def get(self, category: str) -> Route:
        doc = await self._col.find_one({"_id": str(category)})
        if doc:
            return Route.from_doc(doc)
        return DEFAULT_ROUTES.get(category, DEFAULT_ROUTES["other"])

    async def all(self) -> list[Route]:
        stored = {doc["_id"]: Route.from_doc(doc) async for doc in self._col.find({})}
        return [stored.get(category, DEFAULT_ROUTES[category]) for category in CATEGORIES]

    async def set(self, category: str, department: str, sla_hours: int) -> Route:
        if category not in CATEGORIES:
            raise ValueError(f"unknown category {category!r}")
        if sla_hours <= 0:
            raise ValueError("sla_hours must be positive")
        await self._col.update_one(
            {"_id": category}, {"$set": {"department": department, "sla_hours": int(sla_hours)}}, upsert=True
        )
        return Route(category, department, int(sla_hours))


async def seed_routing(db: AsyncIOMotorDatabase) -> None:
    """Write the default table; entries staff already edited are left alone."""
    col = db["report_routing"]
    for route in DEFAULT_ROUTES.values():
        await col.update_one(
            {"_id": route.category},
            {"$setOnInsert": {"department": route.department, "sla_hours": route.sla_hours}},
            upsert=True,
        )
