"""Demo data of the storage layer: the street and communities of 华富街道 (Futian, Shenzhen)
and the demo staff. bot/seed.py seeds everything for `make run` (with the services' own demo data)."""
from __future__ import annotations

import os

from motor.motor_asyncio import AsyncIOMotorDatabase

from storage.communities import DEFAULT_CENTRE_HOURS

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


async def seed_places(db: AsyncIOMotorDatabase) -> None:
    """The street and its communities. Idempotent: upserts by id, never overwrites what staff changed later."""
    await db["streets"].update_one({"_id": STREET["_id"]}, {"$setOnInsert": STREET}, upsert=True)
    for community_id, name in COMMUNITIES:
        await db["communities"].update_one(
            {"_id": community_id},
            {"$setOnInsert": {"_id": community_id, "name": name, "street": STREET["_id"]}},
            upsert=True,
        )
        # Where residents are sent for government services (policy questions); kept if staff edited it.
        await db["communities"].update_one(
            {"_id": community_id, "service_centre": {"$exists": False}},
            {"$set": {"service_centre": {"name": f"{name}事务受理服务中心", "address": f"{name}党群服务中心一楼",
                                         "hours": DEFAULT_CENTRE_HOURS}}},
        )


DEMO_PASSWORD = "linli-demo-2026"


def demo_staff_accounts() -> list[dict]:
    """A community admin per community (admin-<community>), two grid workers, the
    street admin and a sysadmin."""
    accounts = [
        {"username": f"admin-{cid.removeprefix('huafu-')}", "name": f"{name}管理员",
         "role": "community_admin", "community": cid}
        for cid, name in COMMUNITIES
    ]
    accounts += [
        {"username": "grid-tianmian", "name": "田面网格员", "role": "grid_worker", "community": "huafu-tianmian"},
        {"username": "grid-xintian", "name": "新田网格员", "role": "grid_worker", "community": "huafu-xintian"},
        {"username": "street-huafu", "name": "华富街道管理员", "role": "street_admin", "street": STREET["_id"]},
        {"username": "sysadmin", "name": "系统管理员", "role": "sysadmin"},
    ]
    return accounts


async def seed_demo_staff(db: AsyncIOMotorDatabase, password: str | None = None) -> None:
    """Demo console accounts, password LINLI_DEMO_PASSWORD (default linli-demo-2026);
    existing accounts are left alone."""
    import asyncio

    from storage.staff import StaffRepository, hash_password

    password = password or os.environ.get("LINLI_DEMO_PASSWORD", "").strip() or DEMO_PASSWORD
    repo = StaffRepository(db)
    hashed = None  # one hash for all demo accounts (argon2 is slow on purpose)
    for account in demo_staff_accounts():
        if await repo.get_by_username(account["username"]) is None:
            hashed = hashed or await asyncio.to_thread(hash_password, password)
            await repo.create(
                account["username"], password, name=account["name"], role=account["role"],
                community=account.get("community"), street=account.get("street"), password_hash=hashed,
            )
