"""In-memory twins of storage/ledger.py's LedgerRepository and RuleRepository, storage/shop.py's
ShopRepository and storage/points_limits.py's PointsLimits: one movement per idempotency key,
no balance below 0 (but the issuer's), stock taken and given back once per reservation, one
award per pair and day, daily caps, one review per key."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from storage.ledger import (
    APPLIED, NEGATIVE_ALLOWED, PENDING, REJECTED, Entry, IdempotencyConflict, InsufficientPoints, Rule, legs,
)
from storage.points_limits import PENDING as REVIEW_PENDING, Review
from storage.shop import FAILED, FULFILLED, VOIDED, Reservation, ShopItem, pickup_code
from tests.fakes.query import FakeCollection


def _now() -> datetime:
    return datetime.now(timezone.utc)


class FakeLedgerRepository:
    """Postings are applied at once (nothing is ever left half done, so `reconcile` finds nothing)."""

    def __init__(self) -> None:
        self.entries = FakeCollection({"idempotency_key": (("idempotency_key",), None)})
        self.accounts: dict[str, int] = {}

    async def ensure_indexes(self) -> None:
        return None

    async def post(self, key: str, account: str, counter_account: str, amount: int, kind: str, *,
                   ref: dict[str, Any] | None = None, memo: str | None = None, community: str | None = None,
                   earned: int = 0, reverses: str | None = None, staff_id: str | None = None) -> Entry:
        if not isinstance(amount, int) or amount == 0 or account == counter_account:
            raise ValueError("a movement needs a non-zero integer amount between two accounts")
        before = self.entries.find_one({"idempotency_key": key})
        if before is not None:
            if (before["account"], before["counter_account"], before["amount"]) != (account, counter_account, amount):
                raise IdempotencyConflict(f"key {key} was used for another movement")
            if before["state"] == REJECTED:
                losing, _, needed = legs(before)
                raise InsufficientPoints(losing, needed, await self.balance(losing))
            return Entry.from_doc(before, replayed=True)
        now = _now()
        doc = {"_id": str(ObjectId()), "idempotency_key": key, "account": account, "counter_account": counter_account,
               "amount": amount, "kind": kind, "ref": ref, "memo": memo, "community": community, "earned": earned,
               "reverses": reverses, "staff_id": staff_id, "created_at": now}
        losing, gaining, moved = legs(doc)
        if losing not in NEGATIVE_ALLOWED and self.accounts.get(losing, 0) < moved:
            self.entries.insert_one({**doc, "state": REJECTED, "rejected_at": now})
            raise InsufficientPoints(losing, moved, self.accounts.get(losing, 0))
        self.accounts[losing] = self.accounts.get(losing, 0) - moved
        self.accounts[gaining] = self.accounts.get(gaining, 0) + moved
        self.entries.insert_one({**doc, "state": APPLIED, "applied_at": now})
        return Entry.from_doc(self.entries.find_one({"_id": doc["_id"]}))

    async def balance(self, account: str) -> int:
        return self.accounts.get(account, 0)

    async def get(self, entry_id: str) -> Entry | None:
        doc = self.entries.find_one({"_id": str(entry_id)})
        return Entry.from_doc(doc) if doc else None

    async def by_key(self, key: str) -> Entry | None:
        doc = self.entries.find_one({"idempotency_key": key})
        return Entry.from_doc(doc) if doc else None

    async def find(self, query: dict[str, Any], *, limit: int = 50, skip: int = 0) -> list[Entry]:
        docs = self.entries.find(query, [("created_at", -1), ("_id", -1)])
        return [Entry.from_doc(doc) for doc in docs[skip:skip + limit]]

    async def history(self, account: str, *, limit: int = 20, skip: int = 0) -> list[Entry]:
        query = {"$or": [{"account": account}, {"counter_account": account}], "state": APPLIED}
        return await self.find(query, limit=limit, skip=skip)

    async def count(self, query: dict[str, Any]) -> int:
        return self.entries.count(query)

    async def derived_balance(self, account: str) -> int:
        return sum(Entry.from_doc(doc).delta_for(account) for doc in self.entries.find({"state": APPLIED}))

    async def verify(self, account: str) -> tuple[int, int]:
        return await self.balance(account), await self.derived_balance(account)

    async def earned_totals(self, community: str, start: datetime, end: datetime,
                            limit: int = 10) -> list[tuple[str, int]]:
        totals: dict[str, list[Any]] = {}
        for doc in self.entries.find({"community": community, "state": APPLIED, "earned": {"$ne": 0},
                                      "created_at": {"$gte": start, "$lt": end}}, [("created_at", 1)]):
            totals.setdefault(doc["account"], [0, doc["created_at"]])[0] += doc["earned"]
        best = sorted(((acc, pts, first) for acc, (pts, first) in totals.items() if pts > 0),
                      key=lambda row: (-row[1], row[2]))
        return [(account, points) for account, points, _ in best[:limit]]

    async def reconcile(self) -> dict[str, int]:
        assert self.entries.count({"state": PENDING}) == 0
        return {"driven": 0, "rejected": 0, "cleaned": 0, "undone": 0}


class FakeRuleRepository:
    def __init__(self) -> None:
        self.col = FakeCollection()

    async def get(self, rule_id: str) -> Rule | None:
        doc = self.col.find_one({"_id": rule_id})
        return Rule.from_doc(doc) if doc else None

    async def all(self) -> list[Rule]:
        return [Rule.from_doc(doc) for doc in self.col.find({}, [("_id", 1)])]

    async def seed(self, rule_id: str, title: str, points: int, match: dict[str, Any] | None = None) -> None:
        self.col.update_one({"_id": rule_id}, {"$setOnInsert": {"title": title, "points": points, "active": True,
                                                                "match": match or {}}}, upsert=True)

    async def update(self, rule_id: str, *, points: int, active: bool) -> Rule | None:
        doc = self.col.update_one({"_id": rule_id}, {"$set": {"points": points, "active": active}})
        return Rule.from_doc(doc) if doc else None


class FakeShopRepository:
    def __init__(self) -> None:
        self.items = FakeCollection()
        self.reservations = FakeCollection({"key": (("key",), None)})

    async def ensure_indexes(self) -> None:
        return None

    async def add_item(self, community: str, name: str, points: int, stock: int,
                       description: str = "", item_id: str | None = None) -> ShopItem:
        doc = {"_id": item_id or str(ObjectId()), "community": community, "name": name, "points": int(points),
               "stock": int(stock), "holds": [], "active": True, "description": description, "created_at": _now()}
        self.items.insert_one(doc)
        return ShopItem.from_doc(doc)

    async def upsert_seed_item(self, doc: dict[str, Any]) -> None:
        self.items.update_one({"_id": doc["_id"]}, {"$setOnInsert": {**doc, "holds": [], "active": True,
                                                                     "created_at": _now()}}, upsert=True)

    def _item(self, doc: dict[str, Any] | None) -> ShopItem | None:
        return ShopItem.from_doc(doc) if doc else None

    async def get_item(self, item_id: str) -> ShopItem | None:
        return self._item(self.items.find_one({"_id": str(item_id)}))

    async def list_items(self, scope: dict[str, Any], *, active_only: bool = True) -> list[ShopItem]:
        query = {**scope, **({"active": True} if active_only else {})}
        return [ShopItem.from_doc(doc) for doc in self.items.find(query, [("points", 1), ("_id", 1)])]

    async def update_item(self, item_id: str, **changes: Any) -> ShopItem | None:
        allowed = {k: v for k, v in changes.items() if k in {"name", "points", "active", "description"}}
        if not allowed:
            return await self.get_item(item_id)
        return self._item(self.items.update_one({"_id": str(item_id)}, {"$set": allowed}))

    async def add_stock(self, item_id: str, count: int) -> ShopItem | None:
        query: dict[str, Any] = {"_id": str(item_id), **({"stock": {"$gte": -count}} if count < 0 else {})}
        return self._item(self.items.update_one(query, {"$inc": {"stock": count}}))

    async def take_stock(self, item_id: str, reservation_id: str, community: str) -> bool:
        taken = self.items.update_one({"_id": item_id, "community": community, "active": True, "stock": {"$gte": 1},
                                       "holds": {"$ne": reservation_id}},
                                      {"$inc": {"stock": -1}, "$push": {"holds": reservation_id}})
        return taken is not None or await self.holds(item_id, reservation_id)

    async def holds(self, item_id: str, reservation_id: str) -> bool:
        return self.items.find_one({"_id": item_id, "holds": reservation_id}) is not None

    async def give_back_stock(self, item_id: str, reservation_id: str) -> bool:
        return self.items.update_one({"_id": item_id, "holds": reservation_id},
                                     {"$inc": {"stock": 1}, "$pull": {"holds": reservation_id}}) is not None

    async def release_hold(self, item_id: str, reservation_id: str) -> None:
        self.items.update_one({"_id": item_id}, {"$pull": {"holds": reservation_id}})

    async def create_reservation(self, doc: dict[str, Any]) -> tuple[Reservation, bool]:
        doc = {**doc, "code": pickup_code()}
        try:
            self.reservations.insert_one(doc)
        except DuplicateKeyError:
            return Reservation.from_doc(self.reservations.find_one({"key": doc["key"]})), False
        return Reservation.from_doc(self.reservations.find_one({"_id": doc["_id"]})), True

    def _reservation(self, doc: dict[str, Any] | None) -> Reservation | None:
        return Reservation.from_doc(doc) if doc else None

    async def get_reservation(self, reservation_id: str) -> Reservation | None:
        return self._reservation(self.reservations.find_one({"_id": str(reservation_id)}))

    async def find_by_code(self, code: str, scope: dict[str, Any]) -> Reservation | None:
        return self._reservation(self.reservations.find_one({**scope, "code": code.upper()}))

    async def transition(self, reservation_id: str, from_states: list[str], to_state: str,
                         **fields: Any) -> Reservation | None:
        now = _now()
        closed = {"closed_at": now} if to_state in (FULFILLED, VOIDED, FAILED) else {}
        return self._reservation(self.reservations.update_one(
            {"_id": str(reservation_id), "state": {"$in": from_states}},
            {"$set": {"state": to_state, "state_at": now, **fields, **closed}}))

    async def for_resident(self, resident_id: str, limit: int = 10) -> list[Reservation]:
        docs = self.reservations.find({"resident_id": resident_id, "state": {"$ne": FAILED}}, [("created_at", -1)], limit)
        return [Reservation.from_doc(doc) for doc in docs]

    async def list_reservations(self, scope: dict[str, Any], states: list[str] | None = None,
                                limit: int = 100) -> list[Reservation]:
        query = {**scope, **({"state": {"$in": states}} if states else {})}
        return [Reservation.from_doc(doc) for doc in self.reservations.find(query, [("created_at", -1)], limit)]

    async def stale(self, states: list[str], before: datetime, field: str = "state_at") -> list[Reservation]:
        docs = self.reservations.find({"state": {"$in": states}, field: {"$lt": before}}, limit=500)
        return [Reservation.from_doc(doc) for doc in docs]


class FakePointsLimits:
    def __init__(self) -> None:
        self.pairs: set[str] = set()
        self.daily: dict[str, int] = {}
        self.reviews = FakeCollection({"key": (("key",), None)})

    async def ensure_indexes(self) -> None:
        return None

    @staticmethod
    def _pair(topic: str, day: str, one: str, other: str) -> str:
        low, high = sorted((str(one), str(other)))
        return f"{topic}:{day}:{low}:{high}"

    async def take_pair(self, topic: str, day: str, one: str, other: str) -> bool:
        key = self._pair(topic, day, one, other)
        if key in self.pairs:
            return False
        self.pairs.add(key)
        return True

    async def give_back_pair(self, topic: str, day: str, one: str, other: str) -> None:
        self.pairs.discard(self._pair(topic, day, one, other))

    async def take_daily(self, resident_id: str, topic: str, day: str, points: int, cap: int) -> bool:
        key = f"{resident_id}:{day}:{topic}"
        if self.daily.get(key, 0) > cap - points:
            return False
        self.daily[key] = self.daily.get(key, 0) + points
        return True

    async def hold(self, *, key: str, topic: str, ref: str, resident_id: str, community: str | None, points: int,
                   title: str, reason: str) -> Review:
        doc = {"_id": str(ObjectId()), "key": key, "topic": topic, "ref": ref, "resident_id": resident_id,
               "community": community, "points": points, "title": title, "reason": reason, "state": REVIEW_PENDING,
               "created_at": _now()}
        try:
            self.reviews.insert_one(doc)
        except DuplicateKeyError:
            pass
        return Review.from_doc(self.reviews.find_one({"key": key}))

    async def get_review(self, review_id: str) -> Review | None:
        doc = self.reviews.find_one({"_id": str(review_id)})
        return Review.from_doc(doc) if doc else None

    async def pending_reviews(self, scope: dict[str, Any], limit: int = 100) -> list[Review]:
        docs = self.reviews.find({**scope, "state": REVIEW_PENDING}, [("created_at", 1)], limit)
        return [Review.from_doc(doc) for doc in docs]

    async def decide(self, review_id: str, state: str, staff_id: str) -> Review | None:
        doc = self.reviews.update_one({"_id": str(review_id), "state": REVIEW_PENDING},
                                      {"$set": {"state": state, "decided_by": staff_id, "decided_at": _now()}})
        return Review.from_doc(doc) if doc else None
