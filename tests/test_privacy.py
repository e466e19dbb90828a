"""PIPL: masking per role, profile view/correction, export and deletion."""
from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from bot.privacy import can_see_contact, mask_address, mask_phone
from storage.dialogue_state import KEY as DIALOGUE_KEY
from storage.staff import Staff
from tests.api_helpers import (  # noqa: F401  (fixtures)
    api, bearer, console_login, fake_mp, fast_argon2, login, make_staff, seed_places,
)


@pytest.mark.parametrize(
    "phone,masked",
    [("13812341234", "138****1234"), ("+86 138 1234 1234", "138****1234"), ("8613812341234", "138****1234"),
     ("0755-83221234", "075****1234"), ("1234567", "12****67"), ("123", "****"), (None, ""), ("", "")],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    "address,masked",
    [("华富路12号3栋501", "华富路12号3栋***"), ("3栋2单元501", "3栋***"), ("莲花一村社区501室", "莲花一村社区***"),
     ("A座1203", "A座***"), ("2号楼3层", "2号楼***"), ("3栋", "3栋"), ("华富路12号", "华富路12号"), ("ABCD", "AB***"), (None, "")],
)
def test_mask_address(address, masked):
    assert mask_address(address) == masked


@pytest.mark.parametrize(
    "role,sees", [("grid_worker", False), ("community_admin", True), ("street_admin", True), ("sysadmin", True)]
)
def test_who_sees_contact_details(role, sees):
    assert can_see_contact(Staff("s", "u", "n", role, "c")) is sees
    assert can_see_contact(None) is False


@pytest.mark.parametrize(
    "username,role,sees_full",
    [("grid-a", "grid_worker", False), ("admin-a", "community_admin", True), ("street", "street_admin", True),
     ("root", "sysadmin", True)],
)
async def test_console_masks_contact_details_per_role(make_client, db, username, role, sees_full):
    await seed_places(db)
    await make_staff(db, username, role, "huafu-tianmian" if role in ("grid_worker", "community_admin") else None,
                     "huafu" if role == "street_admin" else None)
    await db.residents.insert_one({"_id": "r1", "user_keys": ["mp:x"], "community": "huafu-tianmian",
                                   "phone": "13812341234", "building": "华富路12号3栋501", "name": "张阿姨"})
    client = await make_client()
    await console_login(client, username)
    for path in ("/console/residents", "/console/residents/r1"):
        page = await (await client.get(path)).text()
        if sees_full:
            assert "13812341234" in page and "华富路12号3栋501" in page
        else:
            assert "138****1234" in page and "华富路12号3栋***" in page
            assert "13812341234" not in page and "3栋501" not in page


async def test_profile_view_and_correction(api, fake_mp, db):
    token = await login(api, fake_mp)
    me = await (await api.get("/api/v1/me", headers=bearer(token))).json()
    assert me["community"] == "huafu-tianmian" and me["community_name"] == "田面社区"
    assert me["phone"] is None and me["birth_year"] is None
    resp = await api.patch("/api/v1/me", headers=bearer(token), json={
        "phone": " 13812341234 ", "building": "3栋501", "birth_year": 1950, "community": "huafu-xintian",
        "name": "张阿姨", "disability": True,
    })
    assert resp.status == 200
    body = await resp.json()
    assert body["phone"] == "13812341234" and body["building"] == "3栋501" and body["birth_year"] == 1950
    assert body["community"] == "huafu-xintian" and body["community_name"] == "新田社区" and body["disability"] is True
    # the resident sees their own number in full; null clears a field
    cleared = await (await api.patch("/api/v1/me", headers=bearer(token), json={"phone": None})).json()
    assert cleared["phone"] is None and cleared["building"] == "3栋501"
    assert "phone" not in await db.residents.find_one({})


@pytest.mark.parametrize(
    "body,code",
    [
        ({"phone": "12345"}, "invalid_phone"),
        ({"birth_year": 1800}, "invalid_birth_year"),
        ({"birth_year": 3000}, "invalid_birth_year"),
        ({"birth_year": "1950"}, "invalid_birth_year"),
        ({"community": "no-such-community"}, "invalid_community"),
        ({"community": None}, "invalid_community"),
        ({"name": "很" * 40}, "invalid_name"),
        ({"disability": "yes"}, "invalid_disability"),
        ({}, "invalid_body"),
        ({"user_keys": ["mp:someone-else"]}, "invalid_body"),
        ({"deleted_at": None}, "invalid_body"),
    ],
)
async def test_profile_corrections_are_validated(api, fake_mp, db, body, code):
    token = await login(api, fake_mp)
    before = await db.residents.find_one({})
    resp = await api.patch("/api/v1/me", headers=bearer(token), json=body)
    assert resp.status == 400 and (await resp.json())["error"]["code"] == code
    assert await db.residents.find_one({}) == before


async def _resident_with_records(api, fake_mp, db, redis, openid: str) -> tuple[str, dict]:
    token = await login(api, fake_mp, openid)
    await api.patch("/api/v1/me", headers=bearer(token), json={"phone": "13812341234", "building": "3栋501",
                                                                "birth_year": 1948, "name": "李大爷"})
    resident = await db.residents.find_one({"user_keys": f"mp:{openid}"})
    await db.residents.update_one({"_id": resident["_id"]}, {"$addToSet": {"user_keys": f"wechat:{openid}"}})
    now = datetime.now(timezone.utc)
    for user_key in (f"mp:{openid}", f"wechat:{openid}"):
        await db.conversations.insert_one({"user_key": user_key, "text": f"{openid} 说路灯坏了", "received_at": now})
    # a capability record (like a report) following the convention: resident_id + contact
    await db.tickets.insert_one({"_id": f"t-{openid}", "resident_id": resident["_id"], "community": resident["community"],
                                 "category": "streetlight", "status": "closed",
                                 "contact": {"name": "李大爷", "phone": "13812341234", "address": "3栋501"}})
    await db.audit.insert_one({"_id": f"a-{openid}", "action": "ticket.update", "collection": "tickets",
                               "record_id": f"t-{openid}", "resident_id": resident["_id"], "community": resident["community"],
                               "before": {"status": "open", "contact": {"phone": "13812341234"}},
                               "after": {"status": "closed", "contact": {"phone": "13812341234"}}})
    await redis.set(DIALOGUE_KEY.format(user_key=f"mp:{openid}"), json.dumps({"flow": "report"}))
    return token, resident


async def test_export_returns_everything_about_me_only(api, fake_mp, db, redis):
    token, resident = await _resident_with_records(api, fake_mp, db, redis, "me")
    await _resident_with_records(api, fake_mp, db, redis, "neighbour")
    resp = await api.get("/api/v1/me/export", headers=bearer(token))
    assert resp.status == 200 and "attachment" in resp.headers["Content-Disposition"]
    data = json.loads(await resp.text())
    assert set(data) == {"exported_at", "profile", "conversations", "records"}
    assert data["profile"]["_id"] == resident["_id"] and data["profile"]["phone"] == "13812341234"
    assert sorted(t["text"] for t in data["conversations"]) == ["me 说路灯坏了", "me 说路灯坏了"]
    assert [t["_id"] for t in data["records"]["tickets"]] == ["t-me"]
    assert "neighbour" not in json.dumps(data, ensure_ascii=False)
    assert "audit" not in data["records"] and "staff" not in data["records"]


async def test_delete_erases_the_person_and_keeps_the_facts(api, fake_mp, db, redis):
    token, resident = await _resident_with_records(api, fake_mp, db, redis, "me")
    other_token, neighbour = await _resident_with_records(api, fake_mp, db, redis, "neighbour")
    resp = await api.delete("/api/v1/me", headers=bearer(token))
    assert resp.status == 204
    assert (await api.get("/api/v1/me", headers=bearer(token))).status == 401
    tombstone = await db.residents.find_one({"_id": resident["_id"]})
    assert set(tombstone) == {"_id", "user_keys", "community", "created_at", "deleted_at"}
    assert tombstone["user_keys"] == [f"deleted:{resident['_id']}"]
    assert await db.conversations.count_documents({"user_key": {"$in": ["mp:me", "wechat:me"]}}) == 0
    assert not await redis.exists(DIALOGUE_KEY.format(user_key="mp:me"))
    ticket = await db.tickets.find_one({"_id": "t-me"})
    assert ticket["category"] == "streetlight" and ticket["status"] == "closed" and "contact" not in ticket
    assert ticket["resident_erased"] is True
    audit = await db.audit.find_one({"_id": "a-me"})
    assert audit["before"] == {"status": "open"} and audit["after"] == {"status": "closed"}
    assert "13812341234" not in json.dumps(await db.residents.find_one({"_id": resident["_id"]}), default=str)
    # the neighbour's data is untouched
    assert (await db.tickets.find_one({"_id": "t-neighbour"}))["contact"]["phone"] == "13812341234"
    assert (await db.audit.find_one({"_id": "a-neighbour"}))["before"]["contact"]
    assert await db.conversations.count_documents({"user_key": "mp:neighbour"}) == 1
    assert (await db.residents.find_one({"_id": neighbour["_id"]}))["phone"] == "13812341234"
    assert (await api.get("/api/v1/me", headers=bearer(other_token))).status == 200
    # the same WeChat user logging in again is a new, empty resident
    new_token = await login(api, fake_mp, "me")
    again = await (await api.get("/api/v1/me", headers=bearer(new_token))).json()
    assert again["id"] != resident["_id"] and again["phone"] is None


async def test_conversation_logs_expire(db, settings):
    """The TTL index on conversations follows LINLI_CONVERSATION_RETENTION_DAYS."""
    from storage import mongo

    await mongo.ensure_indexes(db, conversation_retention_days=30)
    indexes = await db.conversations.index_information()
    assert indexes["retention"]["expireAfterSeconds"] == 30 * 86400
    assert indexes["retention"]["key"] == [("received_at", 1)]
    # a changed retention recreates the index (what ensure_indexes does at the next start)
    await mongo._ttl_index(db.conversations, "received_at", 7 * 86400, "retention")
    assert (await db.conversations.index_information())["retention"]["expireAfterSeconds"] == 7 * 86400
