"""Demo data for `make run`: every layer's demo data, in order (idempotent: upserts by id,
never overwrites what staff changed later)."""
from __future__ import annotations

from motor.motor_asyncio import AsyncIOMotorDatabase

from services.opening_hours import format_hours
from services.points import seed_demo_points
from services.station_import import seed_demo_stations
from storage.bookings import seed_catalog
from storage.faq import seed_faq
from storage.routing import seed_routing
from storage.seed import COMMUNITIES, seed_demo_staff, seed_places


async def seed_demo(db: AsyncIOMotorDatabase) -> None:
    await seed_places(db)  # the street, its communities and their service centres
    await seed_routing(db)  # report categories -> department and SLA hours
    await seed_catalog(db)  # bookable services and their slots for the next 14 days
    await seed_demo_staff(db)
    await seed_demo_points(db)  # points rules, 积分超市 items, content word list
    await seed_demo_stations(db)  # 8 党群服务中心 + 12 能量栈 of 华富街道 (storage/data/stations_demo.csv)
    # The community FAQ (助餐, 辅具, 积分, 驿站 and service-centre hours); after the stations.
    await seed_faq(db, [community_id for community_id, _ in COMMUNITIES], format_hours)
