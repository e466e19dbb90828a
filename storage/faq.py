"""The community FAQ (`faq_entries`): the community's own rules residents ask about in chat
(助餐 eligibility and prices, 辅具租赁, 积分规则, 驿站 hours, the service centre's hours).

One document per entry: ``{_id, community, key, question, answer, keywords, updated_by,
updated_at}``. `key` is a short code for seeded entries (``meal``, ``rehab`` ...) and None for
entries staff add. Staff edit their community's entries in the console (/console/faq); every
staff read and write goes through `storage.scope.Scoped`. `seed_faq` writes the demo entries
once per community and never overwrites what staff changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, IndexModel, ReturnDocument

from storage.communities import CommunityRepository
from storage.scope import Scoped

COLLECTION = "faq_entries"
MAX_QUESTION, MAX_ANSWER, MAX_KEYWORDS, MAX_KEYWORD = 80, 600, 12, 16
MAX_ENTRIES = 200  # per community: the matcher reads them all on each question
# Keywords name the entry's topic only (轮椅, 积分超市), never words any question has (收费, 时间).
SNAPSHOT_FIELDS = ("community", "key", "question", "answer", "keywords")


@dataclass(frozen=True)
class FaqEntry:
    id: str
    community: str
    question: str
    answer: str
    keywords: list[str] = field(default_factory=list)
    key: str | None = None
    updated_by: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "FaqEntry":
        return cls(id=str(doc["_id"]), community=doc["community"], question=doc.get("question", ""),
                   answer=doc.get("answer", ""), keywords=list(doc.get("keywords") or []), key=doc.get("key"),
                   updated_by=doc.get("updated_by"), updated_at=doc.get("updated_at"))


def snapshot(doc: dict[str, Any] | None) -> dict[str, Any] | None:
    """The audited fields of an entry (before / after)."""
    return {k: doc.get(k) for k in SNAPSHOT_FIELDS} if doc else None


def clean_keywords(raw: str | list[str]) -> list[str]:
    """Keywords from a form field (separated by spaces, commas or 、) or a list; deduplicated."""
    parts = raw if isinstance(raw, list) else str(raw).replace("，", ",").replace("、", ",").replace(" ", ",").split(",")
    result: list[str] = []
    for part in parts:
        word = str(part).strip()[:MAX_KEYWORD]
        if word and word not in result:
            result.append(word)
    return result[:MAX_KEYWORDS]


def validate(question: str, answer: str) -> tuple[str, str]:
    """Trimmed question and answer; ValueError with a Chinese message for staff."""
    question, answer = question.strip(), answer.strip()
    if not question or not answer:
        raise ValueError("问题和回答都要填写")
    if len(question) > MAX_QUESTION:
        raise ValueError(f"问题不超过{MAX_QUESTION}字")
    if len(answer) > MAX_ANSWER:
        raise ValueError(f"回答不超过{MAX_ANSWER}字")
    return question, answer


class FaqRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._db = db
        self._col = db[COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes([
            IndexModel([("community", ASCENDING), ("updated_at", ASCENDING)], name="community_updated"),
        ])

    async def for_community(self, community: str) -> list[FaqEntry]:
        """Every entry of one community (the chat's matcher; residents' side, no staff scope)."""
        cursor = self._col.find({"community": str(community)}).sort("_id", ASCENDING)
        return [FaqEntry.from_doc(d) for d in await cursor.to_list(MAX_ENTRIES)]

    # -- staff side: always scoped ---------------------------------------------------------

    async def list(self, scope: dict[str, Any]) -> list[FaqEntry]:
        cursor = Scoped(self._col, scope).find({}).sort([("community", ASCENDING), ("_id", ASCENDING)])
        return [FaqEntry.from_doc(d) for d in await cursor.to_list(MAX_ENTRIES * 20)]

    async def get_doc(self, entry_id: str, scope: dict[str, Any]) -> dict[str, Any] | None:
        return await Scoped(self._col, scope).find_one({"_id": str(entry_id)})

    async def count(self, community: str) -> int:
        return await self._col.count_documents({"community": str(community)})

    async def create(self, scope: dict[str, Any], *, community: str, question: str, answer: str,
                     keywords: list[str], staff_name: str) -> dict[str, Any]:
        """A new entry; `OutOfScope` when the community is not the staff member's."""
        question, answer = validate(question, answer)
        if await self.count(community) >= MAX_ENTRIES:
            raise ValueError(f"每个社区最多{MAX_ENTRIES}条问答")
        doc = {"_id": str(ObjectId()), "community": community, "key": None, "question": question,
               "answer": answer, "keywords": clean_keywords(keywords), "updated_by": staff_name,
               "updated_at": datetime.now(timezone.utc)}
        await Scoped(self._col, scope).insert_one(doc)
        return doc

    async def update(self, entry_id: str, scope: dict[str, Any], *, question: str, answer: str,
                     keywords: list[str], staff_name: str) -> dict[str, Any] | None:
        """The entry after the change, or None when it is missing or outside the scope."""

        question, answer = validate(question, answer)
        return await Scoped(self._col, scope).find_one_and_update(
            {"_id": str(entry_id)},
            {"$set": {"question": question, "answer": answer, "keywords": clean_keywords(keywords),
                      "updated_by": staff_name, "updated_at": datetime.now(timezone.utc)}},
            return_document=ReturnDocument.AFTER,
        )

    async def delete(self, entry_id: str, scope: dict[str, Any]) -> bool:
        result = await Scoped(self._col, scope).delete_one({"_id": str(entry_id)})
        return result.deleted_count == 1


# -- demo entries --------------------------------------------------------------------------


def demo_entries(community_name: str, centre_name: str, centre_address: str | None, centre_hours: str,
                 station: tuple[str, str] | None = None) -> list[dict[str, Any]]:
    """The seeded FAQ of one community (consistent with the booking catalogue, the points rules
    and, when given, the community's 党群服务中心 `station` (name, opening hours))."""
    where = f"（{centre_address}）" if centre_address else ""
    station_text = (f"{station[0]}开放时间：{station[1]}。" if station
                    else "社区党群服务中心一般工作日 9:00-12:00、14:00-18:00 开放，周末多数 9:00-17:00。")
    return [
        {"key": "meal", "question": "老年助餐谁可以吃？怎么收费？",
         "keywords": ["助餐", "长者饭堂", "老年饭堂", "食堂", "饭堂"],
         "answer": (f"{community_name}长者饭堂面向本社区60周岁及以上老人和持残疾证的居民，午餐11:30-12:30、"
                    "晚餐17:30-18:30，两荤一素一汤，补贴后每餐8元；低保、特困老人免费，凭证件到饭堂登记。"
                    "就餐请提前2小时预约（回复 3 预约服务）。")},
        {"key": "rehab", "question": "康复辅具（轮椅、助行器、拐杖）怎么租？",
         "keywords": ["辅具", "轮椅", "助行器", "拐杖", "护理床", "租赁"],
         "answer": ("轮椅、助行器、拐杖、护理床免费借给本社区60周岁及以上老人和持残疾证的居民，每次最长30天，"
                    "不收押金；凭身份证到社区服务站（党群服务中心一楼）9:00-17:00领取，用完请按时归还，"
                    "损坏要照价赔偿。可以先预约（回复 3 预约服务）。")},
        {"key": "points", "question": "积分怎么攒？积分怎么用？",
         "keywords": ["积分", "攒积分", "积分规则", "积分超市"],
         "answer": ("积分这样攒：报事经核实解决 +5，参加志愿服务 +10，帮邻居完成求助 +10，快递小哥上报问题 +5"
                    "（每项每天有上限）。积分可在积分超市兑换生活用品，兑换后7天内凭取货码到社区党群服务中心领取。"
                    "回复 6 查看我的积分。")},
        {"key": "station_hours", "question": "爱心驿站、能量栈几点开门？",
         "keywords": ["驿站", "能量栈", "党群服务中心"],
         "answer": (f"{station_text}能量栈多数24小时开放，可以歇脚、喝水、充电。各站点的时间以现场公示为准，"
                    "回复 7 找附近的驿站，能看到每个站点的开放时间。")},
        {"key": "centre_hours", "question": "社区事务受理服务中心几点上班？在哪办事？",
         "keywords": ["事务受理", "受理中心", "办事大厅"],
         "answer": f"{centre_name}{where}办公时间：{centre_hours}。办理业务请带好身份证原件。"},
    ]


async def seed_faq(db: AsyncIOMotorDatabase, communities: list[str],
                   format_hours: Callable[[Any], str] | None = None) -> None:
    """The demo FAQ of each community (upsert by community + key; staff edits are kept).
    Run after the stations are seeded, so the 驿站 answer names the community's centre hours
    (written by `format_hours`, services.opening_hours.format_hours; without it, not named)."""
    repo = CommunityRepository(db)
    col = db[COLLECTION]
    now = datetime.now(timezone.utc)
    for community in communities:
        centre = await repo.service_centre(community)
        name = await repo.name(community)
        station = await db["stations"].find_one({"community": community, "kind": "centre"}, {"name": 1, "hours": 1})
        shown = (station["name"], format_hours(station["hours"])) \
            if format_hours is not None and station and station.get("hours") else None
        for entry in demo_entries(name, centre.name, centre.address, centre.hours, shown):
            doc = {**entry, "community": community, "updated_by": "系统预置", "updated_at": now}
            await col.update_one({"_id": f"{community}:{entry['key']}"}, {"$setOnInsert": doc}, upsert=True)
