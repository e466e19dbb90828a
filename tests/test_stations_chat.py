"""附近驿站 by chat, end to end: REST and WeChat channels, the real model, real Redis and
MongoDB with the demo stations of 华富街道, and a fixed clock."""
from __future__ import annotations

from datetime import datetime

import pytest_asyncio

from bot import keys
from bot.messages import InboundMessage, Location
from services.opening_hours import TZ
from services.station_import import seed_demo_stations
from storage.seed import COMMUNITIES
from tests.wechat_helpers import fake_api, make_wechat  # noqa: F401  (fixtures)

URL = "/webhooks/rest/webhook"
WED_10 = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)
WED_0330 = datetime(2026, 11, 25, 3, 30, tzinfo=TZ)
HUAFU = (22.5486, 114.0760)  # 华富社区党群服务中心


async def seed(db) -> None:
    await db.communities.insert_many([{"_id": cid, "name": name, "street": "huafu"} for cid, name in COMMUNITIES])
    await seed_demo_stations(db)


def fix_clock(client, moment: datetime) -> None:
    client.app[keys.STATIONS].clock = lambda: moment


@pytest_asyncio.fixture
async def chat_client(client, db):
    await seed(db)
    fix_clock(client, WED_10)
    return client


async def say(client, text: str, sender: str = "courier-1") -> str:
    resp = await client.post(URL, json={"sender": sender, "message": text})
    assert resp.status == 200, await resp.text()
    return "\n".join(r["text"] for r in await resp.json())


async def send_location(client, latitude: float, longitude: float, label: str | None = None,
                        sender: str = "courier-1") -> str:
    """A location message as the WeChat channel hands it to the dialogue."""
    message = InboundMessage(channel="rest", sender=sender, kind="location", text=label or "",
                             location=Location(latitude, longitude, label), metadata={"intent": "share_location"})
    return "\n".join(r.text for r in await client.app[keys.CHAT].handle(message))


async def test_asking_for_charging_without_a_location_explains_how_to_send_one(chat_client):
    reply = await say(chat_client, "附近哪有能充电的驿站")
    assert "能充电的" in reply and "“位置”" in reply and "＋" in reply and "地名" in reply
    assert "1 华富社区" in reply and "9 " not in reply.replace("回复 9", "")  # 9 stays 找人工
    state = await chat_client.app[keys.CHAT].states.load("rest:courier-1")
    assert (state.flow, state.step, state.slots["amenity"]) == ("station", "where", "charging")


async def test_a_location_message_answers_three_nearest_open_with_the_amenity(chat_client):
    await say(chat_client, "7")
    await say(chat_client, "充电")  # the need, then where
    reply = await send_location(chat_client, *HUAFU, label="华富路")
    lines = reply.splitlines()
    assert "现在开着的能充电的驿站" in reply
    assert lines[1].startswith("1 华富社区党群服务中心") and "就在附近" in lines[2] and "开到今天12:00" in lines[2]
    assert reply.count("有：") == 3 and all("充电" in line for line in lines if "有：" in line)
    assert "约" in lines[5] and "往" in lines[5] and "步行" not in lines[5]
    detail = await say(chat_client, "2")
    assert "地址：" in detail and "电话：0755-0000-" in detail and "开放时间：" in detail
    assert "回复其他数字看别的驿站" in detail


async def test_place_name_instead_of_a_location(chat_client):
    reply = await say(chat_client, "7")
    assert "您在哪里" in reply or "告诉我您在哪里" in reply
    reply = await say(chat_client, "莲花一村")
    assert "在“莲花一村”附近" in reply and "1 莲花一村社区党群服务中心" in reply


async def test_community_number_alone_is_enough(chat_client):
    await say(chat_client, "7")
    reply = await say(chat_client, "1")  # the first community of the list: 华富社区
    assert "在“华富社区”附近" in reply and "1 华富社区党群服务中心" in reply


async def test_unknown_place_then_a_person_is_offered(chat_client):
    await say(chat_client, "7")
    reply = await say(chat_client, "北极村")
    assert "没找到“北极村”附近的驿站" in reply and "9 找人工" not in reply
    reply = await say(chat_client, "北极村")
    assert "回复 9 找人工" in reply


async def test_none_open_says_when_the_nearest_opens(chat_client):
    fix_clock(chat_client, WED_0330)
    await say(chat_client, "7")
    await say(chat_client, "厕所")
    reply = await send_location(chat_client, *HUAFU)
    assert "现在没有开着的有厕所的驿站" in reply
    assert "最近的是华富社区党群服务中心" in reply and "今天09:00开门" in reply


async def test_none_with_the_amenity_nearby(chat_client):
    await say(chat_client, "7")
    await say(chat_client, "雨衣")
    reply = await send_location(chat_client, 22.60, 114.20)
    assert "3公里内没有有雨衣的驿站" in reply and "换个需求" in reply


async def test_a_courier_registers_after_reading_back_and_earns_points_for_valid_reports(chat_client, db):
    await say(chat_client, "7")
    reply = await send_location(chat_client, *HUAFU)
    assert "回复 5 登记" in reply
    reply = await say(chat_client, "5")
    assert "登记您为快递外卖小哥" in reply and "1 对" in reply
    reply = await say(chat_client, "不对")  # back one step: the results again
    assert "1 华富社区党群服务中心" in reply and await db.couriers.count_documents({}) == 0
    await say(chat_client, "5")
    reply = await say(chat_client, "1")
    assert "登记好了" in reply
    resident = await db.residents.find_one({"user_keys": "rest:courier-1"})
    assert (await db.couriers.find_one({"_id": resident["_id"]}))["active"] is True
    reply = await send_location(chat_client, *HUAFU)  # no flow now: the foundation's location answer
    await say(chat_client, "7")
    reply = await send_location(chat_client, *HUAFU)
    assert "登记" not in reply  # registered couriers are not asked again

    # A valid report of the courier earns the courier service points on top.
    from services import events
    from storage.ledger import RuleRepository

    bus = chat_client.app[keys.BUS]  # the app's own bus, on which the bootstrap subscribed

    await RuleRepository(db).seed("courier.report", "快递小哥服务点上报", 5)
    payload = {"ticket": "R20261125-0001", "resident_id": resident["_id"], "user_key": "rest:courier-1",
               "community": resident["community"], "category": "streetlight", "at": WED_10}
    await bus.publish(events.ReportValid(**payload))
    await bus.publish(events.ReportValid(**payload))  # once per ticket
    entries = await db.ledger_entries.find({"ref.type": "courier.report"}).to_list(None)
    assert len(entries) == 1 and entries[0]["amount"] == 5


async def test_wechat_location_then_seven_answers_at_once(make_wechat, db):  # noqa: F811
    client, wechat = await make_wechat()
    await seed(db)
    fix_clock(client, WED_10)
    answer = await wechat.send("location", Location_X=HUAFU[0], Location_Y=HUAFU[1], Scale=15, Label="华富路1018号")
    assert "回复 7" in answer.text
    answer = await wechat.send("text", Content="7")
    assert "1 华富社区党群服务中心" in answer.text and "华富路1018号" in answer.text
