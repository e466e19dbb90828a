"""H3: WeChat and REST residents export and erase their data in chat (bot/privacy_chat.py):
a one-time export link, and erasure only after an explicit confirmation held in Redis."""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from urllib.parse import urlsplit

from bot.privacy_chat import PENDING_KEY, PENDING_TTL
from storage.pii_registry import REDIS_NOT_PERSONAL
from storage.residents import ResidentRepository
from tests.wechat_helpers import OPENID, make_wechat  # noqa: F401  (fixtures)
from tests.wechat_helpers import fake_api  # noqa: F401

URL = "/webhooks/rest/webhook"
SENDER = "zhang-resident-7731"
USER_KEY = f"rest:{SENDER}"
PHONE = "13912345678"
NOW = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)
_ids = iter(range(1, 10_000))


async def say(client, text, sender=SENDER):
    resp = await client.post(URL, json={"sender": sender, "message": text, "metadata": {"message_id": f"m{next(_ids)}"}})
    assert resp.status == 200, await resp.text()
    return " ".join(r["text"] for r in await resp.json())


async def _seed(db, redis, user_key: str = USER_KEY) -> str:
    """A chat resident with a ticket, a callback, a notice and Redis keys, as the capabilities store them."""
    rid = (await ResidentRepository(db).for_user_key(user_key, "huafu-tianmian")).id
    await db.reports.insert_one({"_id": "R1", "resident_id": rid, "community": "huafu-tianmian", "category": "road",
                                 "description": f"3栋501门口有坑，电话{PHONE}", "status": "submitted",
                                 "contact": {"name": "张阿姨", "phone": PHONE, "user_key": user_key},
                                 "history": [], "created_at": NOW})
    await db.callbacks.insert_one({"_id": "cb1", "resident_id": rid, "user_key": user_key, "community": "huafu-tianmian",
                                   "status": "open", "contact": {"phone": PHONE, "conversation": []},
                                   "note": "", "created_at": NOW})
    await db.notices.insert_one({"user_key": user_key, "resident_id": rid, "text": "工单已受理", "created_at": NOW,
                                 "read": False})
    await redis.set(f"linli:elder:{user_key}", "1")
    await redis.set(f"linli:lastloc:{user_key}", json.dumps({"lat": 22.5, "lng": 114.0}))
    return rid


async def _export_path(reply: str) -> str:
    match = re.search(r"https?://\S+/privacy/export/\S+", reply)
    assert match, reply
    return urlsplit(match.group(0)).path


async def _everything(db) -> str:
    docs = []
    for name in await db.list_collection_names():
        docs += await db[name].find({}).to_list(None)
    return json.dumps(docs, ensure_ascii=False, default=str)


async def _personal_redis(redis, needle: str) -> list[str]:
    found = []
    async for key in redis.scan_iter(match="*"):
        if key.startswith(REDIS_NOT_PERSONAL):
            continue
        kind = await redis.type(key)
        value = {"string": redis.get, "hash": redis.hgetall, "set": redis.smembers,
                 "list": lambda k: redis.lrange(k, 0, -1), "zset": lambda k: redis.zrange(k, 0, -1)}[kind](key)
        if needle in key or needle in json.dumps(await value, ensure_ascii=False, default=str):
            found.append(key)
    return found


async def test_rest_resident_exports_by_a_one_time_link(client, db, redis):
    rid = await _seed(db, redis)
    assert "邻里" in await say(client, "你好")
    reply = await say(client, "导出我的数据")
    assert "10分钟" in reply and "只能使用一次" in reply
    path = await _export_path(reply)
    token = path.rsplit("/", 1)[1]
    assert token not in await _everything(db)  # the log of this turn hides the link
    # Redis keeps only the token's hash, and the reply for a retry of this message (2 minutes).
    holders = [k async for k in redis.scan_iter(match="*") if token in (await redis.get(k) or "")]
    assert len(holders) == 1 and holders[0].endswith(":reply") and 0 < await redis.ttl(holders[0]) <= 120

    resp = await client.get(path)
    assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
    data = json.loads(await resp.text())
    assert data["profile"]["_id"] == rid
    assert [t["text"] for t in data["conversations"]] == ["你好", "导出我的数据"]
    assert data["records"]["reports"][0]["contact"]["phone"] == PHONE
    assert {"callbacks", "notices"} <= set(data["records"])

    again = await client.get(path)  # once only
    assert again.status == 404 and "重新" in (await again.json())["error"]["message"]
    assert (await client.get("/privacy/export/not-a-real-token-000000")).status == 404


async def test_a_new_export_request_replaces_the_previous_link(client, db, redis):
    first = await _export_path(await say(client, "查看我的个人信息"))
    second = await _export_path(await say(client, "导出我的数据"))
    assert (await client.get(first)).status == 404
    data = json.loads(await (await client.get(second)).text())
    assert data["profile"] == {}  # only chatted: no resident record, the conversations are found by identity
    assert [t["text"] for t in data["conversations"]] == ["查看我的个人信息", "导出我的数据"]


async def test_rest_resident_erases_after_confirmation_and_nothing_personal_remains(client, db, redis):
    rid = await _seed(db, redis)
    await say(client, "1")  # a report in progress: dialogue state
    assert await redis.exists(f"linli:dialogue:{USER_KEY}")
    link = await _export_path(await say(client, "导出我的数据"))
    reply = await say(client, "我要注销账号")
    assert "确认注销" in reply and "1 确认注销" in reply and "2 取消" in reply
    assert 0 < await redis.ttl(PENDING_KEY.format(user_key=USER_KEY)) <= PENDING_TTL
    assert await db.conversations.count_documents({"user_key": USER_KEY}) == 3  # nothing erased yet

    assert "已为您注销" in await say(client, "确认注销")

    everything = await _everything(db)
    for personal in (SENDER, PHONE, "3栋501", "张阿姨"):
        assert personal not in everything, personal
    assert await _personal_redis(redis, SENDER) == []
    resident = await db.residents.find_one({"_id": rid})
    assert resident["deleted_at"] and resident["user_keys"] == [f"deleted:{rid}"] and "phone" not in resident
    report = await db.reports.find_one({"_id": "R1"})
    assert report["resident_erased"] is True and "contact" not in report and report["category"] == "road"
    callback = await db.callbacks.find_one({"_id": "cb1"})
    assert callback["status"] == "done" and "contact" not in callback and "user_key" not in callback
    assert (await client.get(link)).status == 404  # the pending export link ended with the data

    # Writing again later is a new resident; the old tickets are not theirs any more.
    assert "邻里" in await say(client, "你好")
    assert (await ResidentRepository(db).find_by_user_key(USER_KEY)) is None or \
        (await ResidentRepository(db).find_by_user_key(USER_KEY)).id != rid


async def test_without_confirmation_nothing_is_erased(client, db, redis):
    await _seed(db, redis)
    before = await _everything(db)

    assert "确认注销" in await say(client, "删除我的数据")
    assert "已取消" in await say(client, "2")  # 取消
    assert not await redis.exists(PENDING_KEY.format(user_key=USER_KEY))

    assert "确认注销" in await say(client, "注销")
    await say(client, "路灯坏了")  # anything else: the request lapses and the dialogue answers
    assert not await redis.exists(PENDING_KEY.format(user_key=USER_KEY))
    assert "已为您注销" not in await say(client, "确认注销")  # no pending request: not an erasure

    await redis.set("linli:privacy:pending:rest:someone-else", "erase", ex=60)  # another sender's request
    assert "已为您注销" not in await say(client, "1")

    report = await db.reports.find_one({"_id": "R1"})
    assert report["contact"]["phone"] == PHONE and "resident_erased" not in report
    assert (await ResidentRepository(db).find_by_user_key(USER_KEY)) is not None
    assert await redis.get(f"linli:elder:{USER_KEY}") == "1"
    assert PHONE in before and await db.callbacks.find_one({"_id": "cb1", "contact.phone": PHONE})
    assert await db.conversations.count_documents({"user_key": USER_KEY}) == 6  # every turn kept


async def test_wechat_resident_erases_with_a_numbered_choice(make_wechat, db, redis):
    client, server = await make_wechat()
    user_key = f"wechat:{OPENID}"
    rid = await _seed(db, redis, user_key)
    assert "邻里" in (await server.send("text", Content="你好")).text
    assert "1 确认注销" in (await server.send("text", Content="注销")).text
    assert "已为您注销" in (await server.send("text", Content="1")).text
    assert OPENID not in await _everything(db)
    assert await _personal_redis(redis, OPENID) == []
    assert (await db.residents.find_one({"_id": rid}))["deleted_at"]


async def test_wechat_resident_gets_an_export_link(make_wechat, db, redis):
    client, server = await make_wechat()
    await _seed(db, redis, f"wechat:{OPENID}")
    path = await _export_path((await server.send("text", Content="导出我的数据")).text)
    data = json.loads(await (await client.get(path)).text())
    assert data["records"]["reports"][0]["resident_id"] == data["profile"]["_id"]
    assert (await client.get(path)).status == 404
