"""H3 / L8: one registry of where personal data lives (storage/pii_registry.py), used by
export and erasure; erasure leaves nothing personal behind; an export holds no other
residents' ids and no staff names."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from bot import keys
from storage.ledger import resident_account
from storage.pii_registry import known_collections
from tests.api_helpers import api, bearer, fake_mp, fast_argon2, login  # noqa: F401  (fixtures)

ROOT = Path(__file__).resolve().parent.parent
_NAMES = [re.compile(r'db\[\s*"([a-z_.]+)"\s*\]'), re.compile(r'^\s*(?:COLLECTION|COURIERS|BUCKET)\s*=\s*"([a-z_]+)"', re.M)]


def test_every_collection_in_the_code_is_in_the_registry():
    """Fails when a capability names a collection that the registry does not know."""
    found: dict[str, str] = {}
    for folder in ("bot", "services", "storage", "handlers"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            for pattern in _NAMES:
                for name in pattern.findall(text):
                    found.setdefault(name, str(path.relative_to(ROOT)))
    found = {("report_photos.files" if n == "report_photos" else n): p for n, p in found.items()}
    missing = {n: p for n, p in found.items() if n not in known_collections()}
    assert not missing, f"add these collections to storage/pii_registry.py: {missing}"
    assert {"share_posts", "help_requests", "ledger_entries", "bookings", "notices", "callbacks"} <= set(found)


async def test_every_collection_the_app_creates_is_in_the_registry(api, db):
    names = set(await db.list_collection_names())
    assert names and not (names - known_collections() - {"system.indexes"})


NOW = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)


async def _seed(db, redis, rid: str, other: str, keys_: list[str]) -> None:
    await db.share_posts.insert_one({"_id": "post1", "owner_id": rid, "community": "huafu-tianmian", "kind": "item",
                                     "mode": "lend", "title": "梯子，电话13912345678", "description": "3栋501自取",
                                     "state": "available", "hidden": False, "created_at": NOW})
    await db.help_requests.insert_one({"_id": "help1", "requester_id": rid, "community": "huafu-tianmian",
                                       "kind": "buy", "details": "帮我买菜，住3栋501", "place": "3栋501",
                                       "state": "open", "hidden": False, "created_at": NOW})
    await db.share_loans.insert_one({"_id": "loan1", "post_id": "postX", "owner_id": other, "borrower_id": rid,
                                     "state": "requested", "created_at": NOW})
    await db.notices.insert_one({"user_key": keys_[0], "resident_id": None, "text": "您的电话 13912345678",
                                 "created_at": NOW, "read": False})
    await db.callbacks.insert_one({"_id": "cb1", "resident_id": rid, "user_key": keys_[0], "community": "huafu-tianmian",
                                   "status": "open", "contact": {"phone": "13912345678", "conversation": []},
                                   "note": "", "created_at": NOW})
    await db.bookings.insert_one({"_id": "bk1", "resident_id": rid, "user_key": keys_[0], "status": "booked",
                                  "slot_id": "none", "community": "huafu-tianmian", "start": NOW,
                                  "service": "health_check", "service_name": "体检", "booking_no": "B1"})
    await db.ledger_entries.insert_one({"_id": "le1", "account": resident_account(rid), "counter_account": "system:issuer",
                                        "amount": 10, "kind": "award", "state": "applied",
                                        "memo": "帮3栋501张阿姨（13912345678）买菜", "idempotency_key": "k1",
                                        "created_at": NOW, "staff_id": "s1"})
    await db.reports.insert_one({"_id": "R1", "resident_id": rid, "community": "huafu-tianmian", "category": "road",
                                 "description": "3栋501门口有坑，电话139 1234 5678", "status": "resolved",
                                 "followers": [{"resident_id": other, "channel": "rest"}],
                                 "history": [{"action": "resolve", "status": "resolved",
                                              "actor": {"kind": "staff", "id": "s1", "name": "王网格"},
                                              "note": "已联系13912345678"}], "created_at": NOW})
    await db.audit.insert_one({"_id": "au1", "resident_id": rid, "action": "callback.done", "collection": "callbacks",
                               "record_id": "cb1", "after": {"note": "已打 13912345678"}, "at": NOW})
    await db["report_photos.files"].insert_one({"_id": "f1", "metadata": {"uploaded_by": rid}, "length": 1})
    for key in keys_:
        await redis.set(f"linli:elder:{key}", "1")
        await redis.set(f"linli:lastloc:{key}", json.dumps({"lat": 22.5, "lng": 114.0}))
        channel, _, sender = key.partition(":")
        await redis.set(f"linli:dedup:{channel}:{sender}:m1", "[]")


async def test_erasure_leaves_nothing_personal(api, fake_mp, db, redis):
    token = await login(api, fake_mp, "me")
    me = await db.residents.find_one({"user_keys": "mp:me"})
    rid = me["_id"]
    await db.residents.update_one({"_id": rid}, {"$addToSet": {"user_keys": "wechat:me"}})
    await _seed(db, redis, rid, "neighbour-id", ["wechat:me", "mp:me"])
    assert (await api.delete("/api/v1/me", headers=bearer(token))).status == 204
    post = await db.share_posts.find_one({"_id": "post1"})
    assert post["hidden"] is True and post["state"] == "withdrawn" and "13912345678" not in post["title"]
    assert "501" not in json.dumps(post, default=str)
    help_ = await db.help_requests.find_one({"_id": "help1"})
    assert help_["state"] == "cancelled" and help_["hidden"] is True and "501" not in json.dumps(help_, default=str)
    assert (await db.share_loans.find_one({"_id": "loan1"}))["state"] == "cancelled"
    assert await db.notices.count_documents({}) == 0
    callback = await db.callbacks.find_one({"_id": "cb1"})
    assert "user_key" not in callback and "contact" not in callback and callback["status"] == "done"
    booking = await db.bookings.find_one({"_id": "bk1"})
    assert booking["status"] == "cancelled" and "user_key" not in booking
    memo = (await db.ledger_entries.find_one({"_id": "le1"}))["memo"]
    assert "13912345678" not in memo and "501" not in memo
    report = await db.reports.find_one({"_id": "R1"})
    assert "1234 5678" not in report["description"] and "501" not in report["description"]
    assert "13912345678" not in report["history"][0]["note"] and report["resident_erased"] is True
    assert "13912345678" not in json.dumps(await db.audit.find_one({"_id": "au1"}), default=str)
    assert "uploaded_by" not in (await db["report_photos.files"].find_one({"_id": "f1"}))["metadata"]
    assert await redis.keys("linli:elder:*") == [] and await redis.keys("linli:lastloc:*") == []
    assert await redis.keys("linli:dedup:*") == []


async def test_no_notice_reaches_an_erased_resident_by_user_key(api, fake_mp, db):
    token = await login(api, fake_mp, "me")
    rid = (await db.residents.find_one({"user_keys": "mp:me"}))["_id"]
    assert (await api.delete("/api/v1/me", headers=bearer(token))).status == 204
    notifier = api.app[keys.NOTIFIER]
    assert await notifier.notify(text="预约已取消", user_key="mp:me") == "skipped"
    assert await notifier.notify(text="预约已取消", user_key="mp:me", resident_id=rid) == "skipped"
    assert await db.notices.count_documents({}) == 0


async def test_export_holds_no_other_residents_or_staff(api, fake_mp, db, redis):
    """L8, and the export finds records by every field of the registry (owner_id, account, ...)."""
    token = await login(api, fake_mp, "me")
    rid = (await db.residents.find_one({"user_keys": "mp:me"}))["_id"]
    await _seed(db, redis, rid, "neighbour-id", ["mp:me"])
    data = json.loads(await (await api.get("/api/v1/me/export", headers=bearer(token))).text())
    records = data["records"]
    assert {"share_posts", "help_requests", "share_loans", "ledger_entries", "reports", "callbacks", "bookings",
            "notices"} <= set(records)
    text = json.dumps(data, ensure_ascii=False)
    assert "neighbour-id" not in text and "王网格" not in text and '"s1"' not in text
    assert records["share_loans"][0]["owner_id"] == "other" and records["share_loans"][0]["borrower_id"] == rid
    assert records["reports"][0]["history"][0]["actor"] == {"kind": "staff"}
