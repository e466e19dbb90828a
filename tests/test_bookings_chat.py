"""Booking in chat end to end: REST channel, the real trained NLU, real Redis and MongoDB."""
from __future__ import annotations

import pytest_asyncio

from bot import keys
from storage.bookings import seed_catalog
from storage.residents import ResidentRepository

URL = "/webhooks/rest/webhook"
COMMUNITY = "huafu-tianmian"


async def say(client, text: str, sender: str) -> str:
    resp = await client.post(URL, json={"sender": sender, "message": text})
    assert resp.status == 200, await resp.text()
    return "\n".join(reply["text"] for reply in await resp.json())


def option(text: str, number: int) -> str:
    """The line of a numbered choice."""
    return next(line for line in text.splitlines() if line.startswith(f"{number} "))


async def person(db, sender: str, birth_year: int | None = 1950, name: str | None = None):
    repo = ResidentRepository(db)
    resident = await repo.for_user_key(f"rest:{sender}", COMMUNITY)
    return await repo.update_profile(resident.id, birth_year=birth_year, name=name)


@pytest_asyncio.fixture
async def chat(client, db):
    await seed_catalog(db)
    return client


async def test_meal_booked_from_one_sentence_with_a_time(chat, db):
    elder = await person(db, "elder-1")
    text = await say(chat, "明天中午预约老年助餐", "elder-1")
    assert option(text, 1).startswith("1 明天") and "11:30-12:30 午餐" in option(text, 1)
    text = await say(chat, "1", "elder-1")
    assert "请核对" in text and "服务：老年助餐" in text and "11:30-12:30" in text and "1 确认预约" in text
    assert await db["bookings"].count_documents({}) == 0  # nothing before the confirmation
    text = await say(chat, "1", "elder-1")
    booking = await db["bookings"].find_one({})
    assert "预约成功" in text and f"预约号：{booking['booking_no']}" in text
    assert booking["resident_id"] == elder.id and booking["service"] == "elderly_meal"
    assert booking["user_key"] == "rest:elder-1" and booking["channel"] == "rest"
    slot = await db["booking_slots"].find_one({"_id": booking["slot_id"]})
    assert slot["booked"] == 1


async def test_pick_from_the_list_then_say_a_day(chat, db):
    await person(db, "vol-1", birth_year=1992)
    text = await say(chat, "3", "vol-1")
    assert "预约服务，请选一项" in text and option(text, 4).startswith("4 志愿活动")
    text = await say(chat, "4", "vol-1")
    assert "志愿活动可以约这些时间" in text
    text = await say(chat, "周六", "vol-1")
    assert "（周六）09:00-11:00 社区环境清洁日" in option(text, 1)
    await say(chat, "1", "vol-1")
    text = await say(chat, "好的", "vol-1")
    assert "预约成功" in text
    booking = await db["bookings"].find_one({})
    assert booking["service"] == "volunteer" and booking["title"] == "社区环境清洁日"


async def test_ineligible_resident_hears_why(chat, db):
    await person(db, "young-1", birth_year=1995)
    text = await say(chat, "我想预约老年助餐", "young-1")
    assert "老年助餐面向60岁及以上的老人，或持残疾证的居民" in text and "您今年" in text
    assert "残疾证" in text
    assert await chat.app[keys.REDIS].get("linli:dialogue:rest:young-1") is None or "booking" not in (
        await chat.app[keys.REDIS].get("linli:dialogue:rest:young-1"))
    assert await db["bookings"].count_documents({}) == 0


async def test_birth_year_is_asked_once_when_unknown(chat, db):
    resident = await person(db, "new-1", birth_year=None)
    text = await say(chat, "我想预约老年助餐", "new-1")
    assert "哪一年出生" in text
    text = await say(chat, "1949", "new-1")
    assert "老年助餐可以约这些时间" in text
    assert (await ResidentRepository(db).get(resident.id)).birth_year == 1949


async def test_list_and_cancel_frees_the_place(chat, db):
    await person(db, "elder-2")
    await say(chat, "明天中午预约老年助餐", "elder-2")
    await say(chat, "1", "elder-2")
    await say(chat, "1", "elder-2")
    booking = await db["bookings"].find_one({})
    text = await say(chat, "4", "elder-2")  # 我的预约
    assert "您的预约" in text and option(text, 1).startswith("1 老年助餐 明天")
    text = await say(chat, "1", "elder-2")
    assert "要取消这个预约吗" in text and "2 临时有事，取消" in text and "1 不取消" in text
    text = await say(chat, "3", "elder-2")
    assert "已取消" in text
    stored = await db["bookings"].find_one({"_id": booking["_id"]})
    assert stored["status"] == "cancelled" and stored["cancel_reason"] == "身体不适"
    assert (await db["booking_slots"].find_one({"_id": booking["slot_id"]}))["booked"] == 0
    assert "没有预约" in await say(chat, "4", "elder-2")


async def test_a_slot_taken_meanwhile_offers_the_waitlist_and_a_cancellation_promotes(chat, db):
    await person(db, "a-1")
    await person(db, "b-1")
    await say(chat, "明天中午预约老年助餐", "a-1")
    await say(chat, "1", "a-1")
    await say(chat, "1", "a-1")
    booking = await db["bookings"].find_one({})
    await db["booking_slots"].update_one({"_id": booking["slot_id"]}, {"$set": {"capacity": 1}})
    text = await say(chat, "明天中午预约老年助餐", "b-1")
    assert "（已满，可排队候补）" in text  # the wished slot is full: offered as a queue place
    lines = [line for line in text.splitlines() if "已满" in line]
    number = lines[0].split()[0]
    text = await say(chat, number, "b-1")
    assert "确认后为您排队候补" in text and "1 排队候补" in text
    text = await say(chat, "1", "b-1")
    assert "排第 1 位" in text
    entry = await db["booking_waitlist"].find_one({})
    assert entry["status"] == "waiting"

    await say(chat, "4", "a-1")
    await say(chat, "1", "a-1")
    await say(chat, "3", "a-1")  # 不需要了，取消
    entry = await db["booking_waitlist"].find_one({})
    assert entry["status"] == "offered"
    notice = await db["notices"].find_one({"resident_id": entry["resident_id"]})
    assert "有名额了" in notice["text"]
    text = await say(chat, "4", "b-1")
    assert "【候补到位，请确认】" in text
    text = await say(chat, "1", "b-1")
    assert "候补的名额到了" in text
    text = await say(chat, "1", "b-1")
    assert "预约成功" in text
    assert await db["bookings"].count_documents({"status": "booked"}) == 1
    assert (await db["booking_slots"].find_one({"_id": booking["slot_id"]}))["booked"] == 1


async def test_proxy_booking_for_a_linked_mother(chat, db):
    son = await person(db, "son-1", birth_year=1980)
    mother = await person(db, "mum-1", birth_year=1946, name="李秀英")
    text = await say(chat, "帮我妈预约助餐", "son-1")
    assert "需要先和老人绑定" in text
    service = chat.app[keys.BOOKINGS]
    request = await service.request_link(son, "family", "妈妈")
    await service.confirm_link(mother, request["code"])
    text = await say(chat, "明天中午帮我妈预约助餐", "son-1")
    assert "11:30-12:30 午餐" in option(text, 1)
    text = await say(chat, "1", "son-1")
    assert "为：妈妈" in text
    text = await say(chat, "1", "son-1")
    assert "已为妈妈预约好了" in text
    booking = await db["bookings"].find_one({})
    assert booking["resident_id"] == mother.id and booking["booked_by"] == son.id
    text = await say(chat, "4", "son-1")
    assert "（家人）老年助餐" in text


async def test_rent_a_wheelchair_by_numbers(chat, db):
    await person(db, "rent-1", birth_year=1944)
    text = await say(chat, "3", "rent-1")
    assert option(text, 3).startswith("3 康复辅具租赁")
    text = await say(chat, "3", "rent-1")
    assert "您要借哪种辅具" in text and option(text, 1).startswith("1 轮椅")
    text = await say(chat, "1", "rent-1")
    assert "哪天来领取" in text
    text = await say(chat, "1", "rent-1")
    assert "康复辅具租赁（轮椅）" in text and "最长借30天" in text
    text = await say(chat, "1", "rent-1")
    assert "预约成功" in text and "前归还" in text
    booking = await db["bookings"].find_one({})
    assert booking["kind"] == "rental" and booking["unit"] == "wheelchair"
    pool = await db["booking_slots"].find_one({"_id": booking["slot_id"]})
    assert (pool["booked"], pool["capacity"]) == (1, 4)


async def test_cancel_in_one_sentence(chat, db):
    await person(db, "elder-3")
    await say(chat, "明天中午预约老年助餐", "elder-3")
    await say(chat, "1", "elder-3")
    await say(chat, "1", "elder-3")
    text = await say(chat, "明天的助餐我不去了，帮我取消", "elder-3")
    assert "要取消这个预约吗" in text  # the only booking is read back at once
    text = await say(chat, "1", "elder-3")  # 1 keeps the booking (a habitual 1 never cancels)
    assert "预约保留" in text
    assert await db["bookings"].count_documents({"status": "booked"}) == 1
