"""In-memory twins of storage/bookings.py's SlotRepository, BookingRepository and
WaitlistRepository: the same atomic rules (a place is taken only while booked < capacity,
one place per resident and slot, one active waitlist entry per resident and slot)."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from storage.bookings import BOOKED, HOLDING, new_id, slot_query
from tests.fakes.query import FakeCollection


class FakeSlotRepository:
    def __init__(self) -> None:
        self.col = FakeCollection({"service_start_unit": (("service_id", "start", "unit"), None)})

    async def ensure_indexes(self) -> None:
        return None

    async def insert(self, slot: dict[str, Any]) -> dict[str, Any]:
        doc = {"_id": new_id(), **slot}
        self.col.insert_one(doc)
        return doc

    async def insert_if_missing(self, slot: dict[str, Any]) -> bool:
        key = {"service_id": slot["service_id"], "start": slot["start"], "unit": slot.get("unit")}
        if self.col.find_one(key) is not None:
            return False
        self.col.insert_one({"_id": new_id(), "unit": None, **slot})
        return True

    async def get(self, slot_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"_id": str(slot_id)})

    async def for_service(self, service_id: str, start_from: datetime | None = None,
                          start_to: datetime | None = None, *, open_only: bool = True,
                          free_only: bool = False, limit: int = 500) -> list[dict[str, Any]]:
        query = slot_query(service_id, start_from, start_to, open_only=open_only, free_only=free_only)
        return self.col.find(query, [("start", 1), ("unit", 1)], limit)

    async def roster(self, scope: dict[str, Any], start_from: datetime, start_to: datetime,
                     service: str | None = None) -> list[dict[str, Any]]:
        query: dict[str, Any] = {**scope, "start": {"$gte": start_from, "$lt": start_to}}
        if service:
            query["service"] = service
        return self.col.find(query, [("start", 1), ("service", 1)], 1000)

    async def pools(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return self.col.find({**scope, "kind": "rental"}, [("service_id", 1)], 500)

    async def take_place(self, slot_id: str) -> bool:
        return self.col.update_one(
            {"_id": str(slot_id), "status": "open", "$expr": {"$lt": ["$booked", "$capacity"]}},
            {"$inc": {"booked": 1}},
        ) is not None

    async def release_place(self, slot_id: str) -> bool:
        return self.col.update_one({"_id": str(slot_id), "booked": {"$gt": 0}}, {"$inc": {"booked": -1}}) is not None

    async def next_wait_seq(self, slot_id: str) -> int:
        doc = self.col.update_one({"_id": str(slot_id)}, {"$inc": {"wait_seq": 1}})
        if doc is None:
            raise KeyError(slot_id)
        return int(doc["wait_seq"])

    async def set_capacity(self, slot_id: str, capacity: int) -> bool:
        return self.col.update_one({"_id": str(slot_id), "booked": {"$lte": int(capacity)}},
                                   {"$set": {"capacity": int(capacity)}}) is not None

    async def update_fields(self, slot_id: str, **fields: Any) -> dict[str, Any] | None:
        allowed = {k: v for k, v in fields.items() if k in ("title", "status", "end")}
        return self.col.update_one({"_id": str(slot_id)}, {"$set": allowed})


class FakeBookingRepository:
    def __init__(self) -> None:
        self.col = FakeCollection({
            "one_place_per_slot": (("slot_id", "resident_id"), {"holds_place": True}),
            "booking_no": (("booking_no",), None),
        })

    async def ensure_indexes(self) -> None:
        return None

    async def insert(self, booking: dict[str, Any]) -> dict[str, Any]:
        for _ in range(8):
            doc = {"_id": new_id(), "booking_no": f"{secrets.randbelow(10**8):08d}", **booking, "holds_place": True}
            try:
                self.col.insert_one(doc)
                return doc
            except DuplicateKeyError as exc:
                if "booking_no" not in str(exc):
                    raise
        raise RuntimeError("could not allocate a booking number")

    async def get(self, booking_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"_id": str(booking_id)})

    async def active_for_resident(self, resident_id: str, limit: int = 500) -> list[dict[str, Any]]:
        return self.col.find({"resident_id": str(resident_id), "status": BOOKED}, limit=limit)

    async def active_of(self, slot_id: str, resident_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"slot_id": str(slot_id), "resident_id": str(resident_id), "status": BOOKED})

    async def place_holder(self, slot_id: str, resident_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"slot_id": str(slot_id), "resident_id": str(resident_id), "holds_place": True})

    async def confirm_hold(self, booking_id: str) -> dict[str, Any] | None:
        return await self.transition(booking_id, HOLDING, {"status": BOOKED})

    async def drop_hold(self, booking_id: str) -> bool:
        return self.col.delete_one({"_id": str(booking_id), "status": HOLDING})

    async def upcoming(self, resident_id: str, since: datetime, limit: int = 50) -> list[dict[str, Any]]:
        query = {"$or": [{"resident_id": str(resident_id)}, {"booked_by": str(resident_id)}],
                 "status": BOOKED, "end": {"$gte": since}}
        return self.col.find(query, [("start", 1)], limit)

    async def for_slot(self, slot_id: str, *, active_only: bool = False) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"slot_id": str(slot_id), "status": BOOKED if active_only else {"$ne": HOLDING}}
        return self.col.find(query, [("created_at", 1)], 2000)

    async def count_active(self, slot_id: str) -> int:
        return self.col.count({"slot_id": str(slot_id), "status": BOOKED})

    async def transition(self, booking_id: str, from_status: str, changes: dict[str, Any]) -> dict[str, Any] | None:
        update: dict[str, Any] = {"$set": changes}
        if changes.get("status", from_status) not in (BOOKED, HOLDING):
            update["$unset"] = {"holds_place": ""}
        return self.col.update_one({"_id": str(booking_id), "status": from_status}, update)

    async def set_attendance(self, booking_id: str, attendance: str, extra: dict[str, Any]) -> dict[str, Any] | None:
        return self.col.update_one({"_id": str(booking_id), "status": BOOKED, "attendance": {"$ne": attendance}},
                                   {"$set": {"attendance": attendance, **extra}})

    async def due_reminders(self, start_from: datetime, start_to: datetime, limit: int = 500) -> list[dict[str, Any]]:
        return self.col.find({"status": BOOKED, "start": {"$gte": start_from, "$lt": start_to},
                              "reminded_at": None}, limit=limit)

    async def claim_reminder(self, booking_id: str, now: datetime) -> dict[str, Any] | None:
        return self.col.update_one({"_id": str(booking_id), "status": BOOKED, "reminded_at": None},
                                   {"$set": {"reminded_at": now}})


class FakeWaitlistRepository:
    def __init__(self) -> None:
        self.col = FakeCollection({"one_active_per_slot": (("slot_id", "resident_id"), {"active": True})})

    async def ensure_indexes(self) -> None:
        return None

    async def insert(self, entry: dict[str, Any]) -> dict[str, Any]:
        doc = {"_id": new_id(), "status": "waiting", "active": True, **entry}
        self.col.insert_one(doc)
        return doc

    async def get(self, entry_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"_id": str(entry_id)})

    async def active_of(self, slot_id: str, resident_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"slot_id": str(slot_id), "resident_id": str(resident_id), "active": True})

    async def has_waiting(self, slot_id: str) -> bool:
        return self.col.find_one({"slot_id": str(slot_id), "status": "waiting"}) is not None

    async def offer_next(self, slot_id: str, now: datetime, expires: datetime) -> dict[str, Any] | None:
        return self.col.update_one(
            {"slot_id": str(slot_id), "status": "waiting"},
            {"$set": {"status": "offered", "offered_at": now, "offer_expires_at": expires}}, sort=[("seq", 1)],
        )

    async def settle(self, entry_id: str, from_status: str, to_status: str, now: datetime,
                     extra_filter: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any] | None:
        query = {"_id": str(entry_id), "status": from_status, **(extra_filter or {})}
        return self.col.update_one(query, {"$set": {"status": to_status, "settled_at": now, **extra},
                                           "$unset": {"active": ""}})

    async def expired_offers(self, now: datetime, limit: int = 200) -> list[dict[str, Any]]:
        return self.col.find({"status": "offered", "offer_expires_at": {"$lte": now}}, limit=limit)

    async def position(self, entry: dict[str, Any]) -> int:
        return self.col.count({"slot_id": entry["slot_id"], "status": "waiting", "seq": {"$lt": entry["seq"]}}) + 1

    async def for_resident(self, resident_id: str) -> list[dict[str, Any]]:
        query = {"$or": [{"resident_id": str(resident_id)}, {"booked_by": str(resident_id)}], "active": True}
        return self.col.find(query, [("created_at", 1)], 100)

    async def for_slot(self, slot_id: str) -> list[dict[str, Any]]:
        return self.col.find({"slot_id": str(slot_id), "active": True}, [("seq", 1)], 2000)

    async def count_offers(self, slot_id: str) -> int:
        return self.col.count({"slot_id": str(slot_id), "status": "offered"})
