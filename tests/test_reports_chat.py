"""Reporting a problem by chat, end to end: REST channel, real trained NLU model,
real Redis and MongoDB-compatible server. WeChat location and photo messages go through
the chat pipeline the WeChat channel uses."""
from __future__ import annotations

import re

from bot import keys
from bot.messages import InboundMessage, Location
from storage.reports import Actor

URL = "/webhooks/rest/webhook"
TICKET = re.compile(r"R\d{8}-\d{4}")
STAFF = Actor("staff", "s1", "李网格")


async def say(client, text: str, sender: str = "r-1") -> str:
    resp = await client.post(URL, json={"sender": sender, "message": text})
    assert resp.status == 200, await resp.text()
    replies = await resp.json()
    assert replies, f"no reply to {text!r}"
    return "\n".join(r["text"] for r in replies)


async def state_of(client, user_key: str):
    return await client.app[keys.CHAT].states.load(user_key)


def ticket_in(text: str) -> str:
    match = TICKET.search(text)
    assert match, f"no ticket number in: {text}"
    return match.group(0)


async def test_one_sentence_asks_only_for_confirmation_then_saves(client, db):
    reply = await say(client, "3栋门口路灯坏了")
    assert "请核对" in reply
    assert "类别：路灯不亮" in reply and "地点：3栋" in reply and "情况：3栋门口路灯坏了" in reply
    assert await db.reports.count_documents({}) == 0  # nothing saved before the confirmation
    reply = await say(client, "对")
    ticket = ticket_in(reply)
    assert "已派给" in reply and "小时内处理" in reply and "回复 2" in reply
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["category"] == "streetlight" and doc["location_text"].startswith("3栋")  # the NLU's span
    assert doc["description"] == "3栋门口路灯坏了" and doc["status"] == "dispatched"
    assert doc["community"] == client.app[keys.SETTINGS].default_community and doc["channel"] == "rest"
    resident = await db.residents.find_one({"user_keys": "rest:r-1"})
    assert doc["resident_id"] == resident["_id"]
    assert (await state_of(client, "rest:r-1")).flow is None


async def test_step_by_step_with_the_numbered_category_list(client, db):
    reply = await say(client, "1")  # main menu: 报事报修
    # Paged: 7 categories and "8 下一页" a screen; 9 stays 找人工.
    assert "哪一类问题" in reply and "3 下水道堵塞" in reply and "8 下一页" in reply
    assert "\n9 " not in reply
    assert (await state_of(client, "rest:r-1")).step == "category"
    reply = await say(client, "42")
    assert "没有“42”这个选项" in reply and "哪一类问题" in reply
    reply = await say(client, "3")
    assert "在哪里" in reply and "2 跳过" in reply
    assert (await state_of(client, "rest:r-1")).slots["category"] == "drainage"
    reply = await say(client, "华富路口")
    assert "什么情况" in reply
    reply = await say(client, "井盖往外冒污水，很臭")
    assert "类别：下水道堵塞" in reply and "地点：华富路口" in reply and "井盖往外冒污水" in reply
    ticket = ticket_in(await say(client, "1"))
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["category"] == "drainage" and doc["location_text"] == "华富路口"
    assert doc["department"] == "街道水务站"


async def test_changing_ones_mind_before_confirming(client, db):
    assert "请核对" in await say(client, "3栋门口路灯坏了")
    reply = await say(client, "不对")  # which item? (numbered)
    assert (await state_of(client, "rest:r-1")).step == "fix"
    reply = await say(client, "3")
    assert "现在的描述是“3栋门口路灯坏了”" in reply
    reply = await say(client, "路灯一闪一闪的，晚上很吓人")
    assert "请核对" in reply and "情况：路灯一闪一闪的" in reply
    reply = await say(client, "修改地点")
    assert "现在的地点是“3栋" in reply
    reply = await say(client, "5栋后门")
    assert "地点：5栋后门" in reply and "情况：路灯一闪一闪的" in reply
    reply = await say(client, "修改类别")
    assert "现在的类别是“路灯不亮”" in reply and "1 路灯不亮" in reply
    reply = await say(client, "公共设施损坏")
    assert "类别：公共设施损坏" in reply and "地点：5栋后门" in reply
    reply = await say(client, "2")  # 返回修改: which item
    reply = await say(client, "2")  # the location
    assert "在哪里" in reply
    reply = await say(client, "跳过")
    assert "地点：未提供" in reply
    ticket = ticket_in(await say(client, "确认"))
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["category"] == "facility" and doc["location_text"] is None
    assert doc["description"].startswith("路灯一闪一闪的")
    assert await db.reports.count_documents({}) == 1


async def test_cancelling_half_way_saves_nothing(client, db):
    await say(client, "我要报事")
    await say(client, "4")
    reply = await say(client, "算了")
    assert "已取消" in reply
    assert (await state_of(client, "rest:r-1")).flow is None
    # The next message starts afresh (no stale step takes it).
    reply = await say(client, "1")
    assert "哪一类问题" in reply
    reply = await say(client, "垃圾好几天没人清运了")
    assert "在哪里" in reply
    reply = await say(client, "取消")
    assert "取消" in reply
    assert (await state_of(client, "rest:r-1")).flow is None
    assert await db.reports.count_documents({}) == 0


async def test_global_keys_leave_the_report(client, db):
    await say(client, "我要报事")
    reply = await say(client, "0")
    assert reply.startswith("主菜单")
    assert (await state_of(client, "rest:r-1")).flow is None
    await say(client, "我要报事")
    await say(client, "9")  # 找人工 (its own flow, if any, replaces the report)
    assert (await state_of(client, "rest:r-1")).flow != "report"
    assert await db.reports.count_documents({}) == 0


async def test_second_report_of_the_same_problem_follows_the_first(client, db):
    await say(client, "3栋门口路灯坏了", sender="first")
    first = ticket_in(await say(client, "1", sender="first"))
    await say(client, "3栋门口路灯坏了", sender="second")  # a neighbour says the same
    reply = await say(client, "确认", sender="second")
    assert "已经有邻居反映过了" in reply and first in reply
    assert await db.reports.count_documents({"status": "duplicate", "duplicate_of": first}) == 1
    original = await db.reports.find_one({"_id": first})
    assert len(original["followers"]) == 1
    # The second resident's progress question shows the ticket they follow.
    reply = await say(client, "我报的事怎么样了", sender="second")
    assert first in reply


async def test_progress_list_detail_and_unknown_ticket(client, db):
    reply = await say(client, "我报的事怎么样了")
    assert "没有正在办理的报事" in reply
    await say(client, "3栋门口路灯坏了")
    light = ticket_in(await say(client, "1"))
    await say(client, "我要报事")
    await say(client, "7")  # 噪音扰民
    await say(client, "2栋楼下")
    await say(client, "晚上装修声音很大")
    noise = ticket_in(await say(client, "1"))
    reply = await say(client, "2")  # main menu: 查报事进度
    assert "2 件在办" in reply and light in reply and noise in reply and "已派单" in reply
    assert reply.index(noise) < reply.index(light)  # newest first
    reply = await say(client, "1")
    assert noise in reply and "噪音扰民" in reply and "承办：街道综合行政执法队" in reply
    reply = await say(client, f"帮我查查{light}")
    assert light in reply and "路灯不亮" in reply
    # Someone else's ticket is not shown.
    reply = await say(client, f"帮我查查{light}", sender="stranger")
    assert "没有找到" in reply and "3栋门口" not in reply


async def test_a_problem_read_as_a_follow_up_starts_a_report_when_nothing_is_open(client, db, monkeypatch):
    """"好几天没人清理" sounds like chasing a report; the NLU may say report_status. With no
    open report it is a new one; with one open, or words pointing back, it stays a follow-up."""
    chat = client.app[keys.CHAT]
    real_parse = chat.nlu.parse

    async def read_as_follow_up(text: str) -> dict:
        parsed = await real_parse(text)
        if "垃圾" in text or "路灯" in text:
            parsed = {**parsed, "intent": {"name": "report_status", "confidence": 0.9}}
        return parsed

    monkeypatch.setattr(chat.nlu, "parse", read_as_follow_up)
    reply = await say(client, "垃圾堆了好几天没人清理")
    assert "在哪里" in reply and "没有正在办理" not in reply
    assert (await state_of(client, "rest:r-1")).slots["category"] == "garbage"
    await say(client, "取消")
    reply = await say(client, "上次说的垃圾好几天没人清理")  # points back at an earlier report
    assert "没有正在办理的报事" in reply
    monkeypatch.setattr(chat.nlu, "parse", real_parse)
    await say(client, "3栋门口路灯坏了")
    light = ticket_in(await say(client, "1"))
    monkeypatch.setattr(chat.nlu, "parse", read_as_follow_up)
    reply = await say(client, "路灯坏了好几天没人修")  # one open: the follow-up it most likely is
    assert light in reply and "请核对" not in reply


async def test_resolution_is_notified_then_confirmed_and_rated_in_chat(client, db):
    await say(client, "3栋门口路灯坏了")
    ticket = ticket_in(await say(client, "1"))
    reports = client.app[keys.REPORTS]
    await reports.act(ticket, "start", STAFF)
    await reports.act(ticket, "resolve", STAFF, note="已更换灯泡")
    resident = await db.residents.find_one({"user_keys": "rest:r-1"})
    notices = await db.notices.find({"resident_id": resident["_id"]}).to_list(10)
    assert len(notices) == 2 and all(n["ref"] == ticket and n["read"] is False for n in notices)
    reply = await say(client, "我报的事怎么样了")
    assert "已处理，待确认" in reply and "已更换灯泡" in reply and "1-5" in reply
    reply = await say(client, "5")
    assert "5分" in reply and "已办结" in reply
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["status"] == "closed" and doc["rating"]["stars"] == 5
    # The rating step is over: "3" is the main menu's 预约服务 again, not a rating.
    assert (await state_of(client, "rest:r-1")).flow != "report_status"


async def test_resident_says_it_is_not_fixed(client, db):
    await say(client, "3栋门口路灯坏了")
    ticket = ticket_in(await say(client, "1"))
    await client.app[keys.REPORTS].act(ticket, "resolve", STAFF, note="修好了")
    await say(client, "我报的事怎么样了")
    reply = await say(client, "6")
    assert "重新处理" in reply
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["status"] == "in_progress" and doc["rating"] is None


async def test_wechat_location_and_photo_are_part_of_the_report(client, db):
    chat = client.app[keys.CHAT]

    async def send(**fields) -> str:
        message = InboundMessage(channel="wechat", sender="openid-7", **fields)
        return "\n".join(r.text for r in await chat.handle(message))

    reply = await send(text="垃圾堆了好几天没人清理")
    assert "在哪里" in reply and "微信位置" in reply
    reply = await send(kind="location", location=Location(22.5431, 114.0579, "华富街道田面社区3栋"),
                       metadata={"intent": "share_location"})
    assert "照片" in reply
    reply = await send(kind="image", media={"media_id": "MEDIA-1", "pic_url": "https://mmbiz.example/1.jpg"},
                       metadata={"intent": "share_photo"})
    assert "照片：1 张" in reply and "地点：华富街道田面社区3栋" in reply and "类别：垃圾堆放" in reply
    ticket = ticket_in(await send(text="确认"))
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["location"] == {"type": "Point", "coordinates": [114.0579, 22.5431]}
    assert doc["photos"] == [{"source": "wechat", "media_id": "MEDIA-1", "url": "https://mmbiz.example/1.jpg"}]
    assert doc["channel"] == "wechat"


async def test_rest_users_are_not_asked_for_photos(client):
    await say(client, "我要报事")
    await say(client, "1")
    await say(client, "3栋门口")
    reply = await say(client, "灯不亮")
    assert "请核对" in reply and "照片" not in reply


async def test_wechat_reporter_gets_status_changes_as_customer_service_messages(make_client, db):
    from tests.fake_wechat import FakeWeChat

    fake = await FakeWeChat("wx-app", "wx-secret").start()
    try:
        client = await make_client(wechat_token="tok", wechat_app_id="wx-app", wechat_app_secret="wx-secret",
                                   wechat_api_base=fake.url)
        chat = client.app[keys.CHAT]

        async def send(text: str) -> str:
            message = InboundMessage(channel="wechat", sender="openid-9", text=text)
            return "\n".join(r.text for r in await chat.handle(message))

        await send("3栋门口路灯坏了")
        reply = await send("没有")  # no photo
        assert "请核对" in reply
        ticket = ticket_in(await send("1"))
        await client.app[keys.REPORTS].act(ticket, "start", STAFF)
        sends = await fake.wait_for_sends(1)
        assert sends[0].body["touser"] == "openid-9" and ticket in sends[0].body["text"]["content"]
        assert await db.notices.count_documents({}) == 0
        fake.unreachable.add("openid-9")  # 48 hours without a message: kept as a notice instead
        await client.app[keys.REPORTS].act(ticket, "resolve", STAFF, note="换了灯泡")
        notice = await db.notices.find_one({})
        assert notice["ref"] == ticket and "换了灯泡" in notice["text"]
    finally:
        await fake.close()
