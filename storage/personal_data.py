"""A resident's personal data across collections and Redis: export and erasure (PIPL rights).

Where the data lives is declared once, in storage/pii_registry.py; this module only
follows it:
- export: the profile, conversations and, per registered collection, every record found
  by the resident's id, points account or channel identities. Other residents' ids and
  staff names/ids are left out (`_for_export`): the file is about this resident only.
- erasure: conversations, notices and courier registration deleted; every other record
  anonymised as its `Holding` says (personal fields removed, free text masked or emptied,
  posts unpublished, open requests cancelled); the resident's bookings and waitlist
  entries are cancelled by the booking service first (`before_erase`); the audit trail
  forgets the person; Redis keys of their identities deleted; the resident becomes a
  tombstone. Notifications look up the resident, so an erased one is never contacted.
"""
from __future__ import annotations

import fnmatch
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from motor.motor_asyncio import AsyncIOMotorDatabase
from redis.asyncio import Redis

from storage.audit import AuditLog
from storage.ledger import resident_account
from storage.pii_registry import HOLDINGS, REDIS_HOLDINGS, Holding, known_collections
from storage.redaction import redact_text
from storage.residents import Resident, ResidentRepository

MAX_EXPORT_PER_COLLECTION = 10_000
ERASED = "（已删除）"
# Fields that name a person; in an export only the resident's own id stays.
PERSON_FIELDS = frozenset({"resident_id", "owner_id", "borrower_id", "requester_id", "volunteer_id", "helper_id",
                           "elder_id", "booked_by", "account", "counter_account", "uploaded_by", "cancelled_by"})
STAFF_FIELDS = frozenset({"staff_id", "handled_by", "attendance_by", "confirmed_by", "username", "staff"})
OTHER = "other"


def _convention(name: str) -> Holding:
    """A collection missing from the registry (tests/test_erasure.py fails for it in
    the code base): the old convention still applies, `resident_id` + `contact`."""
    return Holding(name, (("id", "resident_id"),), unset=("contact",), subject="resident_id")


async def holdings(db: AsyncIOMotorDatabase) -> list[Holding]:
    """The registry, plus any unregistered collection of this database."""
    known = known_collections()
    extra = [_convention(n) for n in sorted(await db.list_collection_names())
             if n not in known and not n.startswith("system.")]
    return [*HOLDINGS, *extra]


async def resident_for_identity(db: AsyncIOMotorDatabase, user_key: str) -> Resident:
    """The resident behind a chat identity, or, for someone who only ever chatted (no
    record of their own yet), a stand-in without an id: export and erasure then find
    their data by the identity alone (conversations, notices, Redis keys)."""
    return await ResidentRepository(db).find_by_user_key(user_key) or Resident(id="", user_keys=[user_key], community="")


def _filter(holding: Holding, resident: Resident) -> dict[str, Any] | None:
    ors: list[dict[str, Any]] = []
    for kind, path in holding.by:
        if kind in ("id", "account") and not resident.id:
            continue  # a chat identity without a resident record
        if kind == "id":
            ors.append({path: resident.id})
        elif kind == "account":
            ors.append({path: resident_account(resident.id)})
        elif kind == "user_key" and resident.user_keys:
            ors.append({path: {"$in": list(resident.user_keys)}})
    if not ors:
        return None
    return ors[0] if len(ors) == 1 else {"$or": ors}


def _for_export(value: Any, resident: Resident) -> Any:
    """`value` without other residents' ids and without staff names or ids."""
    own = {resident.id, resident_account(resident.id), *resident.user_keys}
    if isinstance(value, list):
        return [_for_export(v, resident) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("kind") == "staff" and "name" in value:  # a history actor
        return {"kind": "staff"}
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in STAFF_FIELDS or key == "followers":
            continue
        if key in PERSON_FIELDS and isinstance(item, str) and item not in own and not item.startswith("system:") \
                and not item.startswith("escrow:"):
            out[key] = OTHER
            continue
        out[key] = _for_export(item, resident)
    return out


async def export_resident(db: AsyncIOMotorDatabase, resident: Resident) -> dict[str, Any]:
    """Everything we hold about one resident, as JSON-ready data."""
    profile = (await ResidentRepository(db).document(resident.id) if resident.id else None) or {}
    records: dict[str, list[dict[str, Any]]] = {}
    conversations: list[dict[str, Any]] = []
    for holding in await holdings(db):
        query = _filter(holding, resident)
        if query is None:
            continue
        docs = await db[holding.collection].find(query).to_list(MAX_EXPORT_PER_COLLECTION)
        if holding.collection == "conversations":
            conversations = sorted(({k: v for k, v in d.items() if k != "_id"} for d in docs),
                                   key=lambda d: d.get("received_at") or datetime.min.replace(tzinfo=timezone.utc))
        elif holding.collection == "audit":
            continue  # staff records about the resident: not part of the resident's own data
        elif docs:
            records[holding.collection] = [_for_export(d, resident) for d in docs]
    return {
        "exported_at": datetime.now(timezone.utc),
        "profile": profile,
        "conversations": conversations,
        "records": records,
    }


def _get_path(doc: dict[str, Any], path: str) -> Any:
    for part in path.split("."):
        if not isinstance(doc, dict):
            return None
        doc = doc.get(part)  # type: ignore[assignment]
    return doc


def _scrubbed(doc: dict[str, Any], holding: Holding) -> dict[str, Any]:
    """$set of the free-text fields of one document, masked or emptied."""
    changes: dict[str, Any] = {}
    for path, emptied in [(p, False) for p in holding.scrub] + [(p, True) for p in holding.clear]:
        head, _, tail = path.partition(".")
        value = doc.get(head)
        if isinstance(value, list) and tail:  # e.g. history.note: every element
            new = [({**v, tail: ERASED if emptied else redact_text(v[tail])}
                    if isinstance(v, dict) and isinstance(v.get(tail), str) else v) for v in value]
            if new != value:
                changes[head] = new
        else:
            text = _get_path(doc, path)
            if isinstance(text, str) and text:
                masked = ERASED if emptied else redact_text(text)
                if masked != text:
                    changes[path] = masked
    return changes


async def _erase_collection(db: AsyncIOMotorDatabase, holding: Holding, resident: Resident) -> int:
    query = _filter(holding, resident)
    if query is None:
        return 0
    col = db[holding.collection]
    if holding.erase == "delete":
        return (await col.delete_many(query)).deleted_count
    count = 0
    async for doc in col.find(query):
        update: dict[str, Any] = {}
        sets = _scrubbed(doc, holding)
        if holding.set and all(_matches(doc, k, v) for k, v in holding.set_when.items()):
            sets.update(holding.set)
        if holding.subject and doc.get(holding.subject) == resident.id:
            sets["resident_erased"] = True
        unset = {f: "" for f in holding.unset if _get_path(doc, f) is not None}
        if sets:
            update["$set"] = sets
        if unset:
            update["$unset"] = unset
        if any(kind == "id" and path.endswith(".resident_id") for kind, path in holding.by):
            update["$pull"] = {path.rsplit(".", 1)[0]: {"resident_id": resident.id}
                               for kind, path in holding.by if kind == "id" and path.endswith(".resident_id")}
        if update:
            await col.update_one({"_id": doc["_id"]}, update)
        count += 1
    return count


def _matches(doc: dict[str, Any], path: str, rule: Any) -> bool:
    value = _get_path(doc, path)
    if isinstance(rule, dict) and "$in" in rule:
        return value in rule["$in"]
    return value == rule


def redis_keys(resident: Resident) -> list[str]:
    """Redis key patterns (some with a glob) holding the resident's data."""
    keys: list[str] = []
    for user_key in resident.user_keys:
        channel, _, sender = user_key.partition(":")
        for item in REDIS_HOLDINGS:
            keys.append(item.pattern.format(user_key=user_key, channel=channel, sender=_glob_escape(sender)))
    return keys


def _glob_escape(text: str) -> str:
    return "".join(f"[{c}]" if c in "*?[]\\" else c for c in text)


async def erase_redis(redis: Redis, resident: Resident) -> int:
    removed = 0
    for user_key in resident.user_keys:  # keys named by a value under the identity's key
        for item in REDIS_HOLDINGS:
            if item.refers_to:
                value = await redis.get(item.pattern.format(user_key=user_key))
                if value:
                    removed += await redis.delete(item.refers_to.format(value=value))
    for pattern in redis_keys(resident):
        if any(c in pattern for c in "*?["):
            names = [k async for k in redis.scan_iter(match=pattern, count=500)]
            names = [k for k in names if fnmatch.fnmatchcase(k if isinstance(k, str) else k.decode(), pattern)]
        else:
            names = [pattern]
        if names:
            removed += await redis.delete(*names)
    return removed


async def erase_resident(
    db: AsyncIOMotorDatabase, redis: Redis, resident: Resident,
    before_erase: Callable[[Resident], Awaitable[Any]] | None = None,
) -> dict[str, int]:
    """Delete or anonymise everything about one resident; counts of what changed.
    `before_erase` runs first (the app passes the booking service's cancellations)."""
    if before_erase is not None and resident.id:
        await before_erase(resident)
    summary: dict[str, int] = {}
    for holding in await holdings(db):
        changed = await _erase_collection(db, holding, resident)
        if changed:
            summary[holding.collection] = changed
    summary["redis"] = await erase_redis(redis, resident)
    if resident.id:
        await AuditLog(db).forget_resident(resident.id)
        await ResidentRepository(db).anonymise(resident.id)
        summary["residents"] = 1
    return summary
