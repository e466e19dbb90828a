"""Demo data for `make run`: the communities of 华富街道 (Futian, Shenzhen) from the seeds."""
from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorDatabase

STREET = {"_id": "huafu", "name": "华富街道", "district": "福田区", "city": "深圳市"}
COMMUNITIES = [
    ("huafu-tianmian", "田面社区"),
    ("huafu-xintian", "新田社区"),
    ("huafu-lianhua1", "莲花一村社区"),
    ("huafu-lianhua2", "莲花二村社区"),
    ("huafu-huaxin", "华新社区"),
    ("huafu-tianbei", "田面北社区"),
    ("huafu-yinhe", "银河社区"),
    ("huafu-huafu", "华富社区"),
]


async def seed_demo(db: AsyncIOMotorDatabase) -> None:
    """Idempotent: upserts by id, never overwrites what staff changed later."""
    await db["streets"].update_one({"_id": STREET["_id"]}, {"$setOnInsert": STREET}, upsert=True)
    for community_id, name in COMMUNITIES:
        await db["communities"].update_one(
            {"_id": community_id},
            {"$setOnInsert": {"_id": community_id, "name": name, "street": STREET["_id"]}},
            upsert=True,
        )
