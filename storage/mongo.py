"""MongoDB connection and index set-up (works on secantusdb and real MongoDB)."""
from __future__ import annotations

import logging

from motor.motor_asyncio import AsyncIOMotorClient, AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import OperationFailure

log = logging.getLogger(__name__)


def connect(uri: str, db_name: str) -> tuple[AsyncIOMotorClient, AsyncIOMotorDatabase]:
    client = AsyncIOMotorClient(
        uri, tz_aware=True, serverSelectionTimeoutMS=5000, connectTimeoutMS=3000
    )
    return client, client[db_name]


async def ping(db: AsyncIOMotorDatabase) -> bool:
    try:
        await db.command("ping")
        return True
    except Exception:  # any failure means "not ready"; the caller reports it
        return False


async def ensure_indexes(db: AsyncIOMotorDatabase, *, conversation_retention_days: int) -> None:
    """Create the indexes every repository relies on; safe to run at every start."""
    from storage.notices import NoticeRepository
    from storage.reports import ReportRepository
    from storage.audit import AuditLog
    from storage.faq import FaqRepository
    from storage.bookings import ensure_indexes as booking_indexes
    from storage.residents import ResidentRepository
    from storage.staff import StaffRepository

    await ResidentRepository(db).ensure_indexes()
    await StaffRepository(db).ensure_indexes()
    await AuditLog(db).ensure_indexes()
    await FaqRepository(db).ensure_indexes()
    await ReportRepository(db).ensure_indexes()
    await NoticeRepository(db).ensure_indexes()
    await booking_indexes(db)
    await _sharing_points_indexes(db)
    await _stations_indexes(db)
    conversations = db["conversations"]
    await conversations.create_indexes(
        [
            IndexModel([("user_key", ASCENDING), ("received_at", DESCENDING)], name="user_recent"),
            IndexModel([("intent", ASCENDING), ("received_at", DESCENDING)], name="intent_recent"),
            IndexModel(
                [("user_key", ASCENDING), ("message_id", ASCENDING)],
                name="user_message_id",
                unique=True,
                partialFilterExpression={"message_id": {"$type": "string"}},
            ),
        ]
    )
    await _ttl_index(conversations, "received_at", conversation_retention_days * 86400, "retention")


async def _sharing_points_indexes(db: AsyncIOMotorDatabase) -> None:
    from storage.ledger import LedgerRepository
    from storage.sharing import SharingRepository
    from storage.shop import ShopRepository

    await LedgerRepository(db).ensure_indexes()
    await ShopRepository(db).ensure_indexes()
    await SharingRepository(db).ensure_indexes()


async def _stations_indexes(db: AsyncIOMotorDatabase) -> None:
    from storage.callbacks import CallbackRepository
    from storage.stations import CourierRegistry, StationRepository

    await StationRepository(db).ensure_indexes()
    await CourierRegistry(db).ensure_indexes()
    await CallbackRepository(db).ensure_indexes()


async def _ttl_index(collection, field: str, seconds: int, name: str) -> None:
    """A TTL index whose period follows configuration (recreated when it changed)."""
    model = IndexModel([(field, ASCENDING)], name=name, expireAfterSeconds=seconds)
    try:
        await collection.create_indexes([model])
    except OperationFailure as exc:  # same name, other options: the retention changed
        log.info("recreating TTL index %s.%s: %s", collection.name, name, exc)
        await collection.drop_index(name)
        await collection.create_indexes([model])
