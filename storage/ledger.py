"""The points ledger: append-only double-entry movements with idempotency keys.

Every movement is one document in `ledger_entries`: `account` gains `amount` and
`counter_account` loses it (a negative amount moves the other way), so the sum of all
balances is always 0 (`system:issuer` is where earned points come from and goes
negative). Balances live in `point_accounts` and are derived from the entries: they
change only by posting an entry, `verify()` recomputes them from the ledger.

Posting works without multi-document transactions. secantusdb does support them (checked:
commit, abort and write conflicts through motor sessions), but a standalone MongoDB does
not, and the steps below are enough:

1. insert the entry in state "pending" with its unique `idempotency_key` and a lease;
2. debit the losing account with a conditional `$inc` (balance >= amount, so balances
   never go negative) that also pushes the entry id onto the account's `pending` list;
3. credit the gaining account the same way (the id in `pending` makes both legs
   idempotent: a retried leg finds its id and does nothing);
4. mark the entry "applied", then pull its id from both accounts.

Recovery rule: a replay of the same key returns the applied entry (credited once), or
drives a pending entry whose lease expired to the end with the same idempotent steps
(`reconcile()` does the same for every stale entry). A debit that finds too few points
marks the entry "rejected"; a leg found applied for a rejected entry is undone. Entries
are never edited or deleted after they are applied: corrections are reversing entries.
"""
from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import ObjectId
from motor.motor_asyncio import AsyncIOMotorDatabase
from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.errors import DuplicateKeyError

from domain.errors import DomainError

ISSUER = "system:issuer"  # where earned and awarded points come from
SHOP = "system:shop"  # where points spent in the 积分超市 end up
ESCROW = "escrow:shop"  # points held for redemptions not yet handed over
NEGATIVE_ALLOWED = frozenset({ISSUER})
LEASE = timedelta(seconds=60)

PENDING, APPLIED, REJECTED = "pending", "applied", "rejected"
# Kinds that count as earning (荣誉榜); their reversals count negatively.
EARNING_KINDS = frozenset({"earn", "award"})


def resident_account(resident_id: str) -> str:
    return f"resident:{resident_id}"


class LedgerError(DomainError):
    """Base of the ledger's refusals (`str(exc)`: the English detail)."""

    code = "ledger_error"
    status = 409

    def __init__(self, message: str = "") -> None:
        super().__init__(None, "积分操作没有完成，请稍后再试", message)
        self.args = (message,)


class InsufficientPoints(LedgerError):
    code = "insufficient_points"

    def __init__(self, account: str, needed: int, balance: int) -> None:
        super().__init__(f"{account} has {balance} points, needs {needed}")
        self.zh = f"积分不够：需要{needed}分，现有{balance}分"
        self.account, self.needed, self.balance = account, needed, balance


class IdempotencyConflict(LedgerError):
    """The key was already used for a different movement."""

    code = "idempotency_conflict"


class PostingInProgress(LedgerError):
    """Another worker is posting this key right now."""

    code = "posting_in_progress"


@dataclass
class Entry:
    id: str
    idempotency_key: str
    account: str
    counter_account: str
    amount: int
    kind: str
    state: str
    created_at: datetime
    ref: dict[str, Any] | None = None
    memo: str | None = None
    community: str | None = None
    earned: int = 0
    reverses: str | None = None
    staff_id: str | None = None
    applied_at: datetime | None = None
    replayed: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_doc(cls, doc: dict[str, Any], replayed: bool = False) -> "Entry":
        return cls(
            id=doc["_id"], idempotency_key=doc["idempotency_key"], account=doc["account"],
            counter_account=doc["counter_account"], amount=int(doc["amount"]), kind=doc["kind"],
            state=doc["state"], created_at=doc["created_at"], ref=doc.get("ref"), memo=doc.get("memo"),
            community=doc.get("community"), earned=int(doc.get("earned") or 0), reverses=doc.get("reverses"),
            staff_id=doc.get("staff_id"), applied_at=doc.get("applied_at"), replayed=replayed,
        )

    def delta_for(self, account: str) -> int:
        """How this entry changed `account`'s balance."""
        if account == self.account:
            return self.amount
        if account == self.counter_account:
            return -self.amount
        return 0


def legs(doc: dict[str, Any]) -> tuple[str, str, int]:
    """(losing account, gaining account, positive amount) of an entry."""
    amount = int(doc["amount"])
    if amount > 0:
        return doc["counter_account"], doc["account"], amount
    return doc["account"], doc["counter_account"], -amount


class LedgerRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._entries = db["ledger_entries"]
        self._accounts = db["point_accounts"]

    async def ensure_indexes(self) -> None:
        await self._entries.create_indexes([
            IndexModel([("idempotency_key", ASCENDING)], name="idempotency_key", unique=True),
            IndexModel([("account", ASCENDING), ("created_at", DESCENDING)], name="account_recent"),
            IndexModel([("counter_account", ASCENDING), ("created_at", DESCENDING)], name="counter_recent"),
            IndexModel([("community", ASCENDING), ("created_at", ASCENDING)], name="community_month"),
            IndexModel([("state", ASCENDING), ("lease_until", ASCENDING)], name="pending_lease",
                       partialFilterExpression={"state": PENDING}),
        ])

    # -- posting -------------------------------------------------------------

    async def post(
        self,
        key: str,
        account: str,
        counter_account: str,
        amount: int,
        kind: str,
        *,
        ref: dict[str, Any] | None = None,
        memo: str | None = None,
        community: str | None = None,
        earned: int = 0,
        reverses: str | None = None,
        staff_id: str | None = None,
    ) -> Entry:
        """Post one movement exactly once per key. Raises InsufficientPoints when the
        losing account would go negative (the entry is kept as "rejected")."""
        if not isinstance(amount, int) or amount == 0 or account == counter_account:
            raise ValueError("a movement needs a non-zero integer amount between two accounts")
        token = uuid.uuid4().hex
        now = datetime.now(timezone.utc)
        doc = {
            "_id": str(ObjectId()), "idempotency_key": key, "account": account,
            "counter_account": counter_account, "amount": amount, "kind": kind, "ref": ref, "memo": memo,
            "community": community, "earned": earned, "reverses": reverses, "staff_id": staff_id,
            "state": PENDING, "created_at": now, "lease": token, "lease_until": now + LEASE,
        }
        try:
            await self._entries.insert_one(doc)
        except DuplicateKeyError:
            return await self._replay(key, account, counter_account, amount)
        return await self._drive(doc, token)

    async def _replay(self, key: str, account: str, counter_account: str, amount: int) -> Entry:
        for attempt in range(50):  # about 3.5 s, then "in progress"
            doc = await self._entries.find_one({"idempotency_key": key})
            if doc is None:  # deleted by hand? never by this code
                raise LedgerError(f"entry {key} vanished")
            if (doc["account"], doc["counter_account"], int(doc["amount"])) != (account, counter_account, amount):
                raise IdempotencyConflict(f"key {key} was used for another movement")
            if doc["state"] == APPLIED:
                return Entry.from_doc(doc, replayed=True)
            if doc["state"] == REJECTED:
                losing, _, needed = legs(doc)
                raise InsufficientPoints(losing, needed, await self.balance(losing))
            claimed = await self._claim(doc["_id"])
            if claimed is not None:
                return await self._drive(*claimed)
            await asyncio.sleep(0.02 + 0.002 * attempt)
        raise PostingInProgress(f"entry {key} is being posted")

    async def _claim(self, entry_id: str) -> tuple[dict[str, Any], str] | None:
        """Take over a pending entry whose lease expired."""
        token, now = uuid.uuid4().hex, datetime.now(timezone.utc)
        doc = await self._entries.find_one_and_update(
            {"_id": entry_id, "state": PENDING, "lease_until": {"$lt": now}},
            {"$set": {"lease": token, "lease_until": now + LEASE}},
        )
        return (doc, token) if doc is not None else None

    async def _drive(self, doc: dict[str, Any], token: str) -> Entry:
        entry_id = doc["_id"]
        losing, gaining, amount = legs(doc)
        if not await self._leg(losing, entry_id, -amount, floor=losing not in NEGATIVE_ALLOWED):
            done = await self._entries.find_one_and_update(
                {"_id": entry_id, "state": PENDING, "lease": token},
                {"$set": {"state": REJECTED, "rejected_at": datetime.now(timezone.utc)},
                 "$unset": {"lease": "", "lease_until": ""}},
            )
            if done is None:  # another worker took the entry over: its outcome counts
                return await self._replay(doc["idempotency_key"], doc["account"], doc["counter_account"], int(doc["amount"]))
            raise InsufficientPoints(losing, amount, await self.balance(losing))
        await self._leg(gaining, entry_id, amount, floor=False)
        now = datetime.now(timezone.utc)
        await self._entries.update_one(
            {"_id": entry_id, "state": PENDING},
            {"$set": {"state": APPLIED, "applied_at": now}, "$unset": {"lease": "", "lease_until": ""}},
        )
        await self._accounts.update_many({"_id": {"$in": [losing, gaining]}}, {"$pull": {"pending": entry_id}})
        return Entry.from_doc({**doc, "state": APPLIED, "applied_at": now})

    async def _leg(self, account: str, entry_id: str, delta: int, *, floor: bool) -> bool:
        """Apply one leg once; False when a debit would take the balance below 0."""
        query: dict[str, Any] = {"_id": account, "pending": {"$ne": entry_id}}
        update = {"$inc": {"balance": delta}, "$push": {"pending": entry_id}}
        for _ in range(5):
            if floor:
                query["balance"] = {"$gte": -delta}
                result = await self._accounts.update_one(query, update)
                if result.modified_count:
                    return True
            else:
                try:
                    result = await self._accounts.update_one(query, update, upsert=True)
                    return True
                except DuplicateKeyError:  # exists with our id, or a concurrent first upsert
                    pass
            if await self._accounts.find_one({"_id": account, "pending": entry_id}, {"_id": 1}):
                return True  # applied before (a replay)
            if floor:
                return False
        raise LedgerError(f"could not apply {entry_id} to {account}")

    # -- reading ---------------------------------------------------------------

    async def balance(self, account: str) -> int:
        doc = await self._accounts.find_one({"_id": account}, {"balance": 1})
        return int(doc["balance"]) if doc else 0

    async def get(self, entry_id: str) -> Entry | None:
        doc = await self._entries.find_one({"_id": str(entry_id)})
        return Entry.from_doc(doc) if doc else None

    async def by_key(self, key: str) -> Entry | None:
        doc = await self._entries.find_one({"idempotency_key": key})
        return Entry.from_doc(doc) if doc else None

    async def history(self, account: str, *, limit: int = 20, skip: int = 0) -> list[Entry]:
        """Applied movements of an account, newest first (the 积分存折)."""
        cursor = (
            self._entries.find({"$or": [{"account": account}, {"counter_account": account}], "state": APPLIED})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)]).skip(skip).limit(limit)
        )
        return [Entry.from_doc(doc) async for doc in cursor]

    async def count(self, query: dict[str, Any]) -> int:
        return await self._entries.count_documents(query)

    async def find(self, query: dict[str, Any], *, limit: int = 50, skip: int = 0) -> list[Entry]:
        cursor = self._entries.find(query).sort([("created_at", DESCENDING), ("_id", DESCENDING)]).skip(skip).limit(limit)
        return [Entry.from_doc(doc) async for doc in cursor]

    async def derived_balance(self, account: str) -> int:
        """The balance recomputed from applied entries."""
        total = 0
        for field_name, sign in (("account", 1), ("counter_account", -1)):
            rows = await self._entries.aggregate([
                {"$match": {field_name: account, "state": APPLIED}},
                {"$group": {"_id": None, "sum": {"$sum": "$amount"}}},
            ]).to_list(1)
            total += sign * int(rows[0]["sum"]) if rows else 0
        return total

    async def verify(self, account: str) -> tuple[int, int]:
        """(stored balance, balance derived from the ledger); equal unless something broke."""
        return await self.balance(account), await self.derived_balance(account)

    async def earned_totals(
        self, community: str, start: datetime, end: datetime, limit: int = 10
    ) -> list[tuple[str, int]]:
        """(account, points earned) in [start, end) for one community, best first (荣誉榜)."""
        rows = await self._entries.aggregate([
            {"$match": {"community": community, "state": APPLIED, "earned": {"$ne": 0},
                        "created_at": {"$gte": start, "$lt": end}}},
            {"$group": {"_id": "$account", "points": {"$sum": "$earned"}, "first": {"$min": "$created_at"}}},
            {"$match": {"points": {"$gt": 0}}},
            {"$sort": {"points": -1, "first": 1}},
            {"$limit": limit},
        ]).to_list(limit)
        return [(row["_id"], int(row["points"])) for row in rows]

    # -- recovery ----------------------------------------------------------------

    async def reconcile(self) -> dict[str, int]:
        """Finish or undo what crashed workers left half done (see the module doc)."""
        counts = {"driven": 0, "rejected": 0, "cleaned": 0, "undone": 0}
        now = datetime.now(timezone.utc)
        async for doc in self._entries.find({"state": PENDING, "lease_until": {"$lt": now}}, {"_id": 1}):
            claimed = await self._claim(doc["_id"])
            if claimed is None:
                continue
            try:
                await self._drive(*claimed)
                counts["driven"] += 1
            except InsufficientPoints:
                counts["rejected"] += 1
        async for account in self._accounts.find({"pending.0": {"$exists": True}}, {"pending": 1}):
            for entry_id in list(account["pending"]):
                entry = await self._entries.find_one({"_id": entry_id})
                if entry is None or entry["state"] == PENDING:
                    continue
                if entry["state"] == APPLIED:
                    await self._accounts.update_one({"_id": account["_id"]}, {"$pull": {"pending": entry_id}})
                    counts["cleaned"] += 1
                else:  # rejected, but this leg got applied by a late worker: undo it
                    delta = Entry.from_doc(entry).delta_for(account["_id"])
                    result = await self._accounts.update_one(
                        {"_id": account["_id"], "pending": entry_id},
                        {"$inc": {"balance": -delta}, "$pull": {"pending": entry_id}},
                    )
                    counts["undone"] += result.modified_count
        return counts


@dataclass
class Rule:
    """How many points an event earns (`points_rules`, editable by staff)."""

    id: str  # the event topic, e.g. "report.valid"
    title: str
    points: int
    active: bool = True
    match: dict[str, Any] = field(default_factory=dict)  # payload fields that must equal these
    daily_cap: int | None = None  # points per resident per day before staff review (None: the default)

    @classmethod
    def from_doc(cls, doc: dict[str, Any]) -> "Rule":
        cap = doc.get("daily_cap")
        return cls(id=doc["_id"], title=doc.get("title") or doc["_id"], points=int(doc.get("points") or 0),
                   active=bool(doc.get("active", True)), match=dict(doc.get("match") or {}),
                   daily_cap=int(cap) if isinstance(cap, int) and cap > 0 else None)

    def applies_to(self, payload: dict[str, Any]) -> bool:
        return self.active and self.points > 0 and all(payload.get(k) == v for k, v in self.match.items())


class RuleRepository:
    def __init__(self, db: AsyncIOMotorDatabase) -> None:
        self._col = db["points_rules"]

    async def get(self, rule_id: str) -> Rule | None:
        doc = await self._col.find_one({"_id": rule_id})
        return Rule.from_doc(doc) if doc else None

    async def all(self) -> list[Rule]:
        return [Rule.from_doc(doc) async for doc in self._col.find({}).sort("_id", ASCENDING)]

    async def seed(self, rule_id: str, title: str, points: int, match: dict[str, Any] | None = None) -> None:
        """Insert a default rule unless it exists (never overwrites staff changes)."""
        await self._col.update_one(
            {"_id": rule_id},
            {"$setOnInsert": {"title": title, "points": points, "active": True, "match": match or {}}}, upsert=True,
        )

    async def update(self, rule_id: str, *, points: int, active: bool) -> Rule | None:
        doc = await self._col.find_one_and_update(
            {"_id": rule_id}, {"$set": {"points": points, "active": active}}, return_document=True
        )
        return Rule.from_doc(doc) if doc else None
