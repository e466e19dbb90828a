"""Bookable community services: catalog, slots, bookings, waitlist and resident links.

Capacity lives on the slot document (`capacity`, `booked`) and is only ever changed by
single-document atomic updates: taking a place is a conditional `$inc` that matches only
while `booked < capacity`. A partial unique index on (slot_id, resident_id) over bookings
that hold a place (`holds_place: true`: a booking being made, status `holding`, or an
active one) stops one resident from holding two places in one slot; the booking is
written as `holding` *before* the place is taken, so a resident's own concurrent taps
are refused as duplicates and never take places from others. No multi-document
transactions are used, so this runs on secantusdb and a standalone MongoDB alike.

Counter invariant: slot.booked == active bookings of the slot + waitlist offers holding a place.
"""
from __future__ import annotations

import secrets
from datetime import date, datetime
from typing import Any, Awaitable, Callable

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel, ReturnDocument
from pymongo.errors import DuplicateKeyError

from storage.booking_catalog import CATALOG, DEMO_COMMUNITIES, TZ, planned_slots, rental_pools, service_doc
# Resident links live in storage/booking_links.py; callers keep importing them from here.
from storage.booking_links import LINK_CODE_MAX_WRONG, LinkRepository  # noqa: F401  (re-exported)

BOOKED = "booked"  # the one active booking status
HOLDING = "holding"  # written before the place is taken; becomes BOOKED or is deleted
ACTIVE_WAIT = ("waiting", "offered")


def new_id() -> str:
    return str(ObjectId())


class CatalogRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["booking_services"]

    async def ensure_indexes(self) -> None:
        await self._col.create_index([("community", ASCENDING), ("order", ASCENDING)], name="community_order")

    async def for_community(self, community: str, *, active_only: bool = True) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"community": community}
        if active_only:
            query["active"] = True
        return await self._col.find(query).sort("order", ASCENDING).to_list(100)

    async def get(self, service_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": str(service_id)})

    async def in_scope(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return await self._col.find(scope).sort([("community", ASCENDING), ("order", ASCENDING)]).to_list(500)

    async def active(self) -> list[dict[str, Any]]:
        """Every active service of every community (the working plans open their slots)."""
        return await self._col.find({"active": True}).to_list(None)

    async def insert_if_missing(self, doc: dict[str, Any]) -> None:
        await self._col.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)


def slot_query(service_id: str, start_from: datetime | None = None, start_to: datetime | None = None, *,
               open_only: bool = True, free_only: bool = False) -> dict[str, Any]:
    """The filter of `SlotRepository.for_service`: rental pools (no start) match any window."""
    query: dict[str, Any] = {"service_id": str(service_id)}
    if start_from is not None or start_to is not None:
        window: dict[str, Any] = {}
        if start_from is not None:
            window["$gte"] = start_from
        if start_to is not None:
            window["$lte"] = start_to
        query["$or"] = [{"start": window}, {"start": None}]
    if open_only:
        query["status"] = "open"
    if free_only:
        query["$expr"] = {"$lt": ["$booked", "$capacity"]}
    return query


class SlotRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["booking_slots"]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes([
            IndexModel([("service_id", ASCENDING), ("start", ASCENDING), ("unit", ASCENDING)],
                       name="service_start_unit", unique=True),
            IndexModel([("community", ASCENDING), ("start", ASCENDING)], name="community_start"),
        ])

    async def insert(self, slot: dict[str, Any]) -> dict[str, Any]:
        """Store a new slot; DuplicateKeyError when the service already has one at that time."""
        doc = {"_id": new_id(), **slot}
        await self._col.insert_one(doc)
        return doc

    async def insert_if_missing(self, slot: dict[str, Any]) -> bool:
        """Idempotent creation by (service, start, unit); True when it was new."""
        key = {"service_id": slot["service_id"], "start": slot["start"], "unit": slot.get("unit")}
        try:
            result = await self._col.update_one(key, {"$setOnInsert": {"_id": new_id(), **slot}}, upsert=True)
        except DuplicateKeyError:  # created concurrently by another worker
            return False
        return result.upserted_id is not None

    async def get(self, slot_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": str(slot_id)})

    async def for_service(self, service_id: str, start_from: datetime | None = None,
                          start_to: datetime | None = None, *, open_only: bool = True,
                          free_only: bool = False, limit: int = 500) -> list[dict[str, Any]]:
        """Slots of a service in time order (rental pools have no start and are always listed)."""
        query = slot_query(service_id, start_from, start_to, open_only=open_only, free_only=free_only)
        return await self._col.find(query).sort([("start", ASCENDING), ("unit", ASCENDING)]).to_list(limit)

    async def roster(self, scope: dict[str, Any], start_from: datetime, start_to: datetime,
                     service: str | None = None) -> list[dict[str, Any]]:
        """Session slots of one day (or range) within a staff scope, in time order."""
        query: dict[str, Any] = {**scope, "start": {"$gte": start_from, "$lt": start_to}}
        if service:
            query["service"] = service
        return await self._col.find(query).sort([("start", ASCENDING), ("service", ASCENDING)]).to_list(1000)

    async def pools(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        """Rental pools (slots without a time) within a staff scope."""
        return await self._col.find({**scope, "kind": "rental"}).sort("service_id", ASCENDING).to_list(500)

    async def take_place(self, slot_id: str) -> bool:
        """Atomically take one place if the slot is open and not full."""
        doc = await self._col.find_one_and_update(
            {"_id": str(slot_id), "status": "open", "$expr": {"$lt": ["$booked", "$capacity"]}},
            {"$inc": {"booked": 1}},
            projection={"_id": 1},
        )
        return doc is not None

    async def release_place(self, slot_id: str) -> bool:
        """Give one place back (never below zero)."""
        result = await self._col.update_one({"_id": str(slot_id), "booked": {"$gt": 0}}, {"$inc": {"booked": -1}})
        return result.modified_count == 1

    async def next_wait_seq(self, slot_id: str) -> int:
        doc = await self._col.find_one_and_update(
            {"_id": str(slot_id)}, {"$inc": {"wait_seq": 1}},
            projection={"wait_seq": 1}, return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise KeyError(slot_id)
        return int(doc["wait_seq"])

    async def set_capacity(self, slot_id: str, capacity: int) -> bool:
        """Change the number of places, never below the places already taken."""
        result = await self._col.update_one(
            {"_id": str(slot_id), "booked": {"$lte": int(capacity)}}, {"$set": {"capacity": int(capacity)}}
        )
        return result.matched_count == 1

    async def update_fields(self, slot_id: str, **fields: Any) -> dict[str, Any] | None:
        allowed = {k: v for k, v in fields.items() if k in ("title", "status", "end")}
        return await self._col.find_one_and_update(
            {"_id": str(slot_id)}, {"$set": allowed}, return_document=ReturnDocument.AFTER
        )


async def insert_numbered(booking: dict[str, Any], insert_one: Callable[[dict[str, Any]], Awaitable[Any]],
                          tries: int = 8) -> dict[str, Any]:
    """Insert `booking` under a random 8-digit booking number, drawing again while the unique
    index on `booking_no` refuses one already given (any other duplicate key is raised)."""
    for _ in range(tries):
        doc = {"_id": new_id(), "booking_no": f"{secrets.randbelow(10**8):08d}", **booking, "holds_place": True}
        try:
            await insert_one(doc)
            return doc
        except DuplicateKeyError as exc:
            if "booking_no" not in str(exc):
                raise
    raise RuntimeError("could not allocate a booking number")


class BookingRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["bookings"]

    async def ensure_indexes(self) -> None:
        # Databases from before `holds_place`: mark active bookings, drop the old index.
        await self._col.update_many({"status": BOOKED, "holds_place": {"$exists": False}},
                                    {"$set": {"holds_place": True}})
        if "one_active_per_slot" in await self._col.index_information():
            await self._col.drop_index("one_active_per_slot")
        await self._col.create_indexes([
            IndexModel([("slot_id", ASCENDING), ("resident_id", ASCENDING)], name="one_place_per_slot",
                       unique=True, partialFilterExpression={"holds_place": True}),
            IndexModel([("booking_no", ASCENDING)], name="booking_no", unique=True),
            IndexModel([("resident_id", ASCENDING), ("start", DESCENDING)], name="resident_start"),
            IndexModel([("booked_by", ASCENDING), ("start", DESCENDING)], name="booker_start"),
            IndexModel([("slot_id", ASCENDING), ("status", ASCENDING)], name="slot_status"),
            IndexModel([("status", ASCENDING), ("start", ASCENDING)], name="status_start"),
        ])

    async def insert(self, booking: dict[str, Any]) -> dict[str, Any]:
        """Store a booking (status BOOKED or HOLDING) under a fresh 8-digit number;
        DuplicateKeyError when the resident already holds a place in the slot."""
        return await insert_numbered(booking, self._col.insert_one)

    async def get(self, booking_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": str(booking_id)})

    async def active_for_resident(self, resident_id: str, limit: int = 500) -> list[dict[str, Any]]:
        """The resident's own active bookings (PIPL erasure cancels them)."""
        return await self._col.find({"resident_id": str(resident_id), "status": BOOKED}).to_list(limit)

    async def mark_eligibility_verified(self, resident_id: str) -> int:
        """Staff verified the resident's facts: their bookings lose the 待核实 mark; how many did."""
        result = await self._col.update_many({"resident_id": str(resident_id), "eligibility_verified": False},
                                             {"$set": {"eligibility_verified": True}})
        return result.modified_count

    async def active_of(self, slot_id: str, resident_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"slot_id": str(slot_id), "resident_id": str(resident_id), "status": BOOKED})

    async def place_holder(self, slot_id: str, resident_id: str) -> dict[str, Any] | None:
        """The resident's booking that holds (or is taking) a place in the slot."""
        return await self._col.find_one({"slot_id": str(slot_id), "resident_id": str(resident_id),
                                         "holds_place": True})

    async def confirm_hold(self, booking_id: str) -> dict[str, Any] | None:
        """The place is taken: the holding booking becomes active (None if it is gone)."""
        return await self.transition(booking_id, HOLDING, {"status": BOOKED})

    async def drop_hold(self, booking_id: str) -> bool:
        """Remove a holding booking that got no place (or was left behind by a crash)."""
        result = await self._col.delete_one({"_id": str(booking_id), "status": HOLDING})
        return result.deleted_count == 1

    async def upcoming(self, resident_id: str, since: datetime, limit: int = 50) -> list[dict[str, Any]]:
        """Active bookings of a resident or made by them for someone else, still ahead
        (rentals until returned)."""
        query = {
            "$or": [{"resident_id": str(resident_id)}, {"booked_by": str(resident_id)}],
            "status": BOOKED,
            "end": {"$gte": since},
        }
        return await self._col.find(query).sort("start", ASCENDING).to_list(limit)

    async def for_slot(self, slot_id: str, *, active_only: bool = False) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"slot_id": str(slot_id), "status": BOOKED if active_only else {"$ne": HOLDING}}
        return await self._col.find(query).sort("created_at", ASCENDING).to_list(2000)

    async def count_active(self, slot_id: str) -> int:
        return await self._col.count_documents({"slot_id": str(slot_id), "status": BOOKED})

    async def transition(self, booking_id: str, from_status: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        """Atomically move a booking out of `from_status`; None if it was not in it.
        A booking leaving the active statuses stops holding its place."""
        update: dict[str, Any] = {"$set": changes}
        if changes.get("status", from_status) not in (BOOKED, HOLDING):
            update["$unset"] = {"holds_place": ""}
        return await self._col.find_one_and_update(
            {"_id": str(booking_id), "status": from_status}, update, return_document=ReturnDocument.AFTER,
        )

    async def set_attendance(self, booking_id: str, attendance: str, extra: dict[str, Any]) -> dict[str, Any] | None:
        """Record attended / no_show once (None if already recorded the same way or not active)."""
        return await self._col.find_one_and_update(
            {"_id": str(booking_id), "status": BOOKED, "attendance": {"$ne": attendance}},
            {"$set": {"attendance": attendance, **extra}},
            return_document=ReturnDocument.AFTER,
        )

    async def due_reminders(self, start_from: datetime, start_to: datetime, limit: int = 500) -> list[dict[str, Any]]:
        return await self._col.find({
            "status": BOOKED, "start": {"$gte": start_from, "$lt": start_to}, "reminded_at": None,
        }).to_list(limit)

    async def claim_reminder(self, booking_id: str, now: datetime) -> dict[str, Any] | None:
        """Mark a booking reminded; only one worker wins."""
        return await self._col.find_one_and_update(
            {"_id": str(booking_id), "status": BOOKED, "reminded_at": None},
            {"$set": {"reminded_at": now}}, return_document=ReturnDocument.AFTER,
        )


class WaitlistRepository:
    """Waitlist entries: waiting -> offered -> accepted | declined | expired; or cancelled.

    `active: true` marks waiting/offered entries (a partial index on a boolean works on
    every MongoDB version, unlike `$in`)."""

    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["booking_waitlist"]

    async def ensure_indexes(self) -> None:
        await self._col.create_indexes([
            IndexModel([("slot_id", ASCENDING), ("resident_id", ASCENDING)], name="one_active_per_slot",
                       unique=True, partialFilterExpression={"active": True}),
            IndexModel([("slot_id", ASCENDING), ("status", ASCENDING), ("seq", ASCENDING)], name="slot_queue"),
            IndexModel([("status", ASCENDING), ("offer_expires_at", ASCENDING)], name="offers_due"),
            IndexModel([("resident_id", ASCENDING), ("status", ASCENDING)], name="resident_status"),
            IndexModel([("booked_by", ASCENDING), ("status", ASCENDING)], name="booker_status"),
        ])

    async def insert(self, entry: dict[str, Any]) -> dict[str, Any]:
        """DuplicateKeyError when the resident is already waiting for the slot."""
        doc = {"_id": new_id(), "status": "waiting", "active": True, **entry}
        await self._col.insert_one(doc)
        return doc

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"_id": str(entry_id)})

    async def active_of(self, slot_id: str, resident_id: str) -> dict[str, Any] | None:
        return await self._col.find_one({"slot_id": str(slot_id), "resident_id": str(resident_id), "active": True})

    async def has_waiting(self, slot_id: str) -> bool:
        return await self._col.find_one({"slot_id": str(slot_id), "status": "waiting"}, {"_id": 1}) is not None

    async def offer_next(self, slot_id: str, now: datetime, expires: datetime) -> dict[str, Any] | None:
        """Atomically turn the first waiting entry into an offer holding the freed place."""
        return await self._col.find_one_and_update(
            {"slot_id": str(slot_id), "status": "waiting"},
            {"$set": {"status": "offered", "offered_at": now, "offer_expires_at": expires}},
            sort=[("seq", ASCENDING)], return_document=ReturnDocument.AFTER,
        )

    async def settle(self, entry_id: str, from_status: str, to_status: str, now: datetime,
                     extra_filter: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any] | None:
        """Atomically end an entry (accepted/declined/expired/cancelled); None if it was not `from_status`."""
        query = {"_id": str(entry_id), "status": from_status, **(extra_filter or {})}
        return await self._col.find_one_and_update(
            query, {"$set": {"status": to_status, "settled_at": now, **extra}, "$unset": {"active": ""}},
            return_document=ReturnDocument.AFTER,
        )

    async def expired_offers(self, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        return await self._col.find({"status": "offered", "offer_expires_at": {"$lte": now}}).to_list(limit)

    async def position(self, entry: dict[str, Any]) -> int:
        """1-based place in the queue of a waiting entry."""
        ahead = await self._col.count_documents(
            {"slot_id": entry["slot_id"], "status": "waiting", "seq": {"$lt": entry["seq"]}}
        )
        return ahead + 1

    async def for_resident(self, resident_id: str) -> list[dict[str, Any]]:
        query = {"$or": [{"resident_id": str(resident_id)}, {"booked_by": str(resident_id)}], "active": True}
        return await self._col.find(query).sort("created_at", ASCENDING).to_list(100)

    async def for_slot(self, slot_id: str) -> list[dict[str, Any]]:
        return await self._col.find({"slot_id": str(slot_id), "active": True}).sort("seq", ASCENDING).to_list(2000)

    async def count_offers(self, slot_id: str) -> int:
        return await self._col.count_documents({"slot_id": str(slot_id), "status": "offered"})


async def ensure_indexes(db: AsyncIOMotorDatabase) -> None:
    for repo in (CatalogRepository(db), SlotRepository(db), BookingRepository(db),
                 WaitlistRepository(db), LinkRepository(db)):
        await repo.ensure_indexes()


async def open_slots_ahead(catalog: CatalogRepository, slots: SlotRepository, first_day: date, days: int = 14) -> int:
    """Create the slots every active service's working plan opens in the next `days`
    days (idempotent; slots staff already changed are left alone). Returns how many were new."""
    created = 0
    for service in await catalog.active():
        planned = rental_pools(service) if service.get("kind") == "rental" else planned_slots(service, first_day, days)
        for slot in planned:
            created += await slots.insert_if_missing(slot)
    return created


async def seed_catalog(db: AsyncIOMotorDatabase, today: date | None = None, days: int = 14) -> None:
    """Demo catalog for the demo communities plus their slots for the next `days` days."""
    catalog = CatalogRepository(db)
    by_code = {entry["code"]: entry for entry in CATALOG}
    for community, codes in DEMO_COMMUNITIES.items():
        for code in codes:
            await catalog.insert_if_missing(service_doc(community, by_code[code]))
    await open_slots_ahead(catalog, SlotRepository(db), today or datetime.now(TZ).date(), days)
