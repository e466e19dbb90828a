"""In-memory twins of storage/bookings.py's CatalogRepository, SlotRepository,
BookingRepository and WaitlistRepository and of storage/booking_links.py's LinkRepository:
the same atomic rules (a place is taken only while booked < capacity, one place per
resident and slot, one active waitlist entry per resident and slot, one confirmed link
per pair, one live request per code)."""
from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from storage.booking_links import LINK_CODE_MAX_WRONG
from storage.bookings import BOOKED, HOLDING, new_id, insert_numbered, slot_query
from tests.fakes.query import FakeCollection


class FakeCatalogRepository:
    def __init__(self) -> None:
        self.col = FakeCollection()

    async def ensure_indexes(self) -> None:
        return None

    async def for_community(self, community: str, *, active_only: bool = True) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"community": community, **({"active": True} if active_only else {})}
        return self.col.find(query, [("order", 1)], 100)

    async def get(self, service_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"_id": str(service_id)})

    async def in_scope(self, scope: dict[str, Any]) -> list[dict[str, Any]]:
        return self.col.find(scope, [("community", 1), ("order", 1)], 500)

    async def active(self) -> list[dict[str, Any]]:
        return self.col.find({"active": True})

    async def insert_if_missing(self, doc: dict[str, Any]) -> None:
        self.col.update_one({"_id": doc["_id"]}, {"$setOnInsert": doc}, upsert=True)


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
        async def insert_one(doc: dict[str, Any]) -> None:
            self.col.insert_one(doc)

        return await insert_numbered(booking, insert_one)

    async def get(self, booking_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"_id": str(booking_id)})

    async def active_for_resident(self, resident_id: str, limit: int = 500) -> list[dict[str, Any]]:
        return self.col.find({"resident_id": str(resident_id), "status": BOOKED}, limit=limit)

    async def mark_eligibility_verified(self, resident_id: str) -> int:
        return self.col.update_many({"resident_id": str(resident_id), "eligibility_verified": False},
                                    {"$set": {"eligibility_verified": True}})

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


class FakeLinkRepository:
    def __init__(self) -> None:
        self.col = FakeCollection({
            "confirmed_pair": (("helper_id", "elder_id"), {"status": "confirmed"}),
            "pending_code": (("code",), {"status": "pending"}),
        })

    async def ensure_indexes(self) -> None:
        return None

    async def create_request(self, helper_id: str, relation: str, label: str | None, community: str,
                             expires: datetime, now: datetime) -> dict[str, Any]:
        for _ in range(10):
            doc = {"_id": new_id(), "helper_id": str(helper_id), "elder_id": None, "relation": relation,
                   "label": label, "community": community, "status": "pending",
                   "code": f"{secrets.randbelow(10**6):06d}", "code_expires_at": expires,
                   "created_at": now, "updated_at": now}
            try:
                self.col.insert_one(doc)
            except DuplicateKeyError:
                continue
            return self.col.find_one({"_id": doc["_id"]})
        raise RuntimeError("could not allocate a link code")

    async def pending_by_code(self, code: str, now: datetime) -> dict[str, Any] | None:
        found = self.col.find_one({"status": "pending", "code": str(code), "code_expires_at": {"$gt": now}})
        return found if found is not None and found.get("wrong_guesses", 0) < LINK_CODE_MAX_WRONG else None

    async def count_wrong_guess(self, now: datetime) -> None:
        self.col.update_many({"status": "pending", "code_expires_at": {"$gt": now}}, {"$inc": {"wrong_guesses": 1}})

    def _confirmed(self, helper_id: str, elder_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"helper_id": str(helper_id), "elder_id": str(elder_id), "status": "confirmed"})

    async def confirm(self, link_id: str, elder_id: str, now: datetime, confirmed_by: str) -> dict[str, Any] | None:
        closed = {"$unset": {"code": "", "code_expires_at": ""}}
        try:
            return self.col.update_one({"_id": str(link_id), "status": "pending"}, {
                "$set": {"status": "confirmed", "elder_id": str(elder_id), "confirmed_at": now,
                         "confirmed_by": confirmed_by, "updated_at": now}, **closed})
        except DuplicateKeyError:  # the pair is linked already: the request is merged into it
            request = self.col.update_one({"_id": str(link_id), "status": "pending"},
                                          {"$set": {"status": "merged", "updated_at": now}, **closed})
            return self._confirmed(request["helper_id"], elder_id) if request else None

    async def create_confirmed(self, helper_id: str, elder_id: str, relation: str, label: str | None,
                               community: str, now: datetime, confirmed_by: str) -> dict[str, Any]:
        existing = self._confirmed(helper_id, elder_id)
        if existing is not None:
            return existing
        doc = {"_id": new_id(), "helper_id": str(helper_id), "elder_id": str(elder_id), "relation": relation,
               "label": label, "community": community, "status": "confirmed", "confirmed_at": now,
               "confirmed_by": confirmed_by, "created_at": now, "updated_at": now}
        self.col.insert_one(doc)
        return self.col.find_one({"_id": doc["_id"]})

    async def confirmed_for_helper(self, helper_id: str) -> list[dict[str, Any]]:
        return self.col.find({"helper_id": str(helper_id), "status": "confirmed"}, [("confirmed_at", 1)], 20)

    async def is_linked(self, helper_id: str, elder_id: str) -> bool:
        return self._confirmed(helper_id, elder_id) is not None

    async def revoke(self, link_id: str, now: datetime, scope: dict[str, Any]) -> dict[str, Any] | None:
        return self.col.update_one(
            {"_id": str(link_id), "status": {"$in": ["pending", "confirmed"]}, **scope},
            {"$set": {"status": "revoked", "updated_at": now}, "$unset": {"code": "", "code_expires_at": ""}})

    async def for_resident(self, resident_id: str) -> list[dict[str, Any]]:
        query = {"$or": [{"helper_id": str(resident_id)}, {"elder_id": str(resident_id)}],
                 "status": {"$in": ["pending", "confirmed"]}}
        return self.col.find(query, [("created_at", -1)], 50)

    async def in_scope(self, scope: dict[str, Any], status: str | None = None) -> list[dict[str, Any]]:
        return self.col.find({**scope, **({"status": status} if status else {})}, [("created_at", -1)], 200)

    async def get(self, link_id: str) -> dict[str, Any] | None:
        return self.col.find_one({"_id": str(link_id)})
