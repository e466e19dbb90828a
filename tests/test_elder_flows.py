"""Whole elder-mode flows of other capabilities (预约, 报事) as an older resident uses
them: numbers only where the flow offers numbers, or WeChat voice (its Recognition
text). Every answer ends with "0 返回主菜单" and "9 找人工"; nothing is saved before the
read-back is confirmed; "不对" / 2 goes back one step; digits never reach the model."""
from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest_asyncio

from bot import keys
from storage.bookings import seed_catalog
from storage.routing import seed_routing
from storage.seed import COMMUNITIES
from tests.wechat_helpers import fake_api, make_wechat  # noqa: F401  (fixtures)

URL = "/webhooks/rest/webhook"
TICKET = re.compile(r"R\d{8}-\d{4}")


async def seed(db, sender_key: str) -> None:
    await db.communities.insert_many([{"_id": cid, "name": name, "street": "huafu"} for cid, name in COMMUNITIES])
    await seed_catalog(db)
    await seed_routing(db)
    born = datetime.now(timezone.utc).year - 75
    await db.residents.insert_one({"_id": "r-elder", "user_keys": [sender_key], "community": "huafu-tianmian",
                                   "birth_year": born})


@pytest_asyncio.fixture
async def elder(client, db):
    await seed(db, "rest:elder")
    return client


async def say(client, text: str) -> str:
    resp = await client.post(URL, json={"sender": "elder", "message": text})
    assert resp.status == 200, await resp.text()
    reply = "\n".join(r["text"] for r in await resp.json())
    assert "0 返回主菜单" in reply and "9 找人工" in reply, (text, reply)  # elder mode: always both
    return reply


def number_of(reply: str, name: str) -> str:
    """The number in front of the line naming `name`."""
    for line in reply.splitlines():
        match = re.match(r"\s*(\d{1,2}) (.*)", line)
        if match and name in match.group(2):
            return match.group(1)
    raise AssertionError(f"no numbered line with {name!r} in:\n{reply}")


async def test_booking_a_meal_with_numbers_only(elder, db, nlu_service):
    before = nlu_service.parses
    reply = await say(elder, "0")  # first contact: the profile says 75, elder mode goes on
    assert reply.startswith("已为您打开长者模式")
    reply = await say(elder, "3")
    reply = await say(elder, number_of(reply, "老年助餐"))
    assert "可以约这些时间" in reply
    reply = await say(elder, "1")
    assert "请核对" in reply and "服务：老年助餐" in reply and "1 确认预约" in reply and "2 换个时间" in reply
    assert await db.bookings.count_documents({}) == 0  # nothing before the confirmation
    reply = await say(elder, "2")  # back one step: the times, not the start
    assert "可以约这些时间" in reply
    reply = await say(elder, "2")
    assert "请核对" in reply
    reply = await say(elder, "1")
    booking = await db.bookings.find_one({})
    assert "预约号" in reply and booking["resident_id"] == "r-elder" and booking["service"] == "elderly_meal"
    assert nlu_service.parses == before  # digits only: the model was never asked


async def test_reporting_with_numbers_where_offered(elder, db, nlu_service):
    """The report flow takes words or numbers at every step; 2 at the read-back asks which
    item to change, as numbered choices."""
    await say(elder, "0")
    reply = await say(elder, "1")
    reply = await say(elder, number_of(reply, "路灯"))
    assert "在哪里" in reply
    reply = await say(elder, "华富路口")
    for _ in range(3):  # the situation (and on WeChat a photo) when asked
        if "请核对" in reply:
            break
        reply = await say(elder, "路灯不亮" if "什么情况" in reply else "没有")
    assert "类别：路灯不亮" in reply and "地点：华富路口" in reply and "1 确认提交" in reply
    assert await db.reports.count_documents({}) == 0
    reply = await say(elder, "2")  # change something: which item?
    assert "请核对" not in reply and "要修改哪一项" in reply
    reply = await say(elder, number_of(reply, "情况"))
    assert "什么情况" in reply
    reply = await say(elder, number_of(reply, "路灯不亮"))
    assert "请核对" in reply
    reply = await say(elder, "1")
    ticket = TICKET.search(reply).group(0)
    doc = await db.reports.find_one({"_id": ticket})
    assert doc["category"] == "streetlight" and doc["location_text"] == "华富路口"
    assert doc["resident_id"] == "r-elder"


async def test_voice_booking_and_report_on_wechat(make_wechat, db):  # noqa: F811
    from tests.wechat_helpers import OPENID

    client, wechat = await make_wechat()
    await seed(db, f"wechat:{OPENID}")

    async def voice(text: str) -> str:
        answer = await wechat.send("voice", MediaId="media-1", Format="amr", Recognition=text)
        reply = answer.text
        assert "0 返回主菜单" in reply and "9 找人工" in reply, (text, reply)
        return reply

    reply = await voice("我想预约明天中午的老年助餐。")
    assert reply.startswith("已为您打开长者模式") and "可以约这些时间" in reply
    reply = await voice("第一个。")
    assert "请核对" in reply and "服务：老年助餐" in reply
    reply = await voice("对。")
    assert "预约号" in reply and await db.bookings.count_documents({}) == 1

    reply = await voice("3栋门口的路灯坏了。")
    for _ in range(3):
        if "请核对" in reply:
            break
        reply = await voice("没有。")  # no photo
    assert "类别：路灯不亮" in reply
    reply = await voice("对的。")
    assert TICKET.search(reply) and await db.reports.count_documents({}) == 1
    state = await client.app[keys.CHAT].states.load(f"wechat:{OPENID}")
    assert state.elder_mode is True and state.flow is None
