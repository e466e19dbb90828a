"""Elder mode (长者模式) and 找人工 end to end: real app, model, Redis and MongoDB.

Switching on by menu key, words and profile; "0 返回主菜单" / "9 找人工" on every elder
reply; the handoff after two misunderstood turns, read back before it is saved, with
"不对" going back one step; the callback request in the console; WeChat's transfer to
customer service."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest_asyncio
import xmltodict

from bot import keys
from bot.messages import InboundMessage
from storage.seed import COMMUNITIES
from tests.api_helpers import console_login, fast_argon2, make_staff  # noqa: F401  (fixture)
from tests.wechat_helpers import OPENID, fake_api, make_wechat  # noqa: F401  (fixtures)

URL = "/webhooks/rest/webhook"


@pytest_asyncio.fixture
async def elder_client(client, db):
    await db.communities.insert_many([{"_id": cid, "name": name, "street": "huafu"} for cid, name in COMMUNITIES])
    return client


async def say(client, text: str, sender: str = "grandma") -> str:
    resp = await client.post(URL, json={"sender": sender, "message": text})
    assert resp.status == 200, await resp.text()
    return "\n".join(r["text"] for r in await resp.json())


async def misunderstood(client, sender: str = "grandma", text: str = "阿巴阿巴") -> str:
    """A turn the model did not understand (fixed, whatever the model would say)."""
    message = InboundMessage(channel="rest", sender=sender, text=text, metadata={"intent": "nlu_fallback"})
    return "\n".join(r.text for r in await client.app[keys.CHAT].handle(message))


async def state(client, sender: str = "grandma"):
    return await client.app[keys.CHAT].states.load(f"rest:{sender}")


def ends_with_ways_out(reply: str) -> bool:
    return "0 返回主菜单" in reply and "9 找人工" in reply


async def test_menu_key_8_switches_elder_mode_on_and_off_and_it_is_remembered(elder_client, redis):
    reply = await say(elder_client, "8")
    assert reply.startswith("已打开长者模式") and "8 退出长者模式" in reply and ends_with_ways_out(reply)
    assert "：" not in reply.split("\n")[2]  # menu lines without the long hints
    assert (await state(elder_client)).elder_mode is True
    await redis.delete("linli:dialogue:rest:grandma")  # the conversation expired
    reply = await say(elder_client, "0")
    assert "8 退出长者模式" in reply and (await state(elder_client)).elder_mode is True
    reply = await say(elder_client, "8")
    assert reply.startswith("已关闭长者模式") and (await state(elder_client)).elder_mode is False
    await redis.delete("linli:dialogue:rest:grandma")
    reply = await say(elder_client, "0")
    assert "8 长者模式：" in reply  # the normal menu again


async def test_words_switch_it_whatever_the_model_says(elder_client):
    assert (await say(elder_client, "打开长者模式")).startswith("已打开长者模式")
    assert (await say(elder_client, "关闭长者模式。")).startswith("已关闭长者模式")
    assert (await say(elder_client, "长者模式")).startswith("已打开长者模式")


async def test_profile_age_switches_it_on_at_first_contact_unless_switched_off(elder_client, db, redis):
    this_year = datetime.now(timezone.utc).year
    await db.residents.insert_many([
        {"_id": "r-old", "user_keys": ["rest:grandma"], "community": "huafu-huafu", "birth_year": this_year - 72},
        {"_id": "r-young", "user_keys": ["rest:courier"], "community": "huafu-huafu", "birth_year": this_year - 30},
    ])
    reply = await say(elder_client, "0")
    assert reply.startswith("已为您打开长者模式") and "8 退出长者模式" in reply
    assert (await state(elder_client)).elder_mode is True
    reply = await say(elder_client, "0")
    assert not reply.startswith("已为您打开长者模式")  # said once
    assert "8 长者模式：" in await say(elder_client, "0", sender="courier")
    await say(elder_client, "8")  # off on request
    await redis.delete("linli:dialogue:rest:grandma")
    reply = await say(elder_client, "0")
    assert "8 长者模式：" in reply and (await state(elder_client)).elder_mode is False  # the choice stands


async def test_every_elder_reply_offers_the_two_ways_out(elder_client):
    await say(elder_client, "8")
    for text in ("2", "42", "7", "4"):
        reply = await say(elder_client, text)
        assert ends_with_ways_out(reply), (text, reply)
    reply = await misunderstood(elder_client)
    assert ends_with_ways_out(reply)


async def test_digits_never_reach_the_model(elder_client, nlu_service):
    before = nlu_service.parses
    for text in ("8", "7", "1", "1", "0", "9", "1", "2", "1", "1", "8"):
        await say(elder_client, text)
    assert nlu_service.parses == before


async def test_handoff_after_two_misunderstood_turns_reads_back_and_saves(elder_client, db, nlu_service):
    await say(elder_client, "8")
    first = await misunderstood(elder_client)
    assert "9 找人工" in first
    second = await misunderstood(elder_client, text="呜啦啦")
    assert "还是没听懂" in second and "回复 9 找人工" in second
    reply = await say(elder_client, "9")
    assert "刚才没听明白" in reply and "手机号" in reply and "不留电话，回复 1" in reply
    assert await db.callbacks.count_documents({}) == 0
    reply = await say(elder_client, "138 1234 5678")
    assert "138 1234 5678" in reply and "1 对" in reply and "2 不对" in reply
    assert await db.callbacks.count_documents({}) == 0  # nothing saved before the confirmation
    reply = await say(elder_client, "不对")  # one step back: the phone number, not the start
    assert "手机号" in reply and (await state(elder_client)).step == "phone"
    reply = await say(elder_client, "幺三九一二三四五六七八")  # as voice recognition writes it
    assert "139 1234 5678" in reply
    reply = await say(elder_client, "1")
    assert "登记号 RG" in reply and "139 1234 5678" in reply and ends_with_ways_out(reply)
    doc = await db.callbacks.find_one({})
    resident = await db.residents.find_one({"user_keys": "rest:grandma"})
    assert doc["resident_id"] == resident["_id"] and doc["community"] == resident["community"]
    assert doc["status"] == "open" and doc["reason"] == "misunderstood" and doc["elder"] is True
    assert doc["contact"]["phone"] == "13912345678" and "phone" not in resident  # the profile is untouched
    texts = [t["text"] for t in doc["contact"]["conversation"]]
    assert texts[:3] == ["8", "阿巴阿巴", "呜啦啦"] and "不对" in texts
    assert any("还是没听懂" in r for t in doc["contact"]["conversation"] for r in t["replies"])
    assert (await state(elder_client)).flow is None


async def test_handoff_with_a_known_phone_and_asking_again(elder_client, db):
    await db.residents.insert_one({"_id": "r-1", "user_keys": ["rest:grandma"], "community": "huafu-tianmian",
                                   "phone": "13800001111"})
    reply = await say(elder_client, "找人工")
    assert "请田面社区工作人员打这个电话给您" in reply and "138 0000 1111" in reply
    reply = await say(elder_client, "对")
    assert "已请田面社区工作人员联系您" in reply
    reply = await say(elder_client, "9")
    reply = await say(elder_client, "1")
    assert "之前的登记" in reply and "还在处理" in reply
    assert await db.callbacks.count_documents({}) == 1
    reply = await say(elder_client, "9")
    assert (await say(elder_client, "算了")).startswith("好的")  # ours, or the cancel intent's
    assert await db.callbacks.count_documents({}) == 1


async def test_console_shows_the_request_with_the_conversation(elder_client, db):
    await misunderstood(elder_client, text="我家那个东西又不行了")
    await say(elder_client, "9")
    await say(elder_client, "1")  # no phone: answer me here
    reply = await say(elder_client, "1")
    assert "工作人员会在这里回复您" in reply
    callback = await db.callbacks.find_one({})
    await make_staff(db, "admin-tianmian", "community_admin", community="huafu-tianmian")
    await make_staff(db, "admin-xintian", "community_admin", community="huafu-xintian")
    csrf = await console_login(elder_client, "admin-tianmian")
    page = await (await elder_client.get("/console/callbacks")).text()
    assert callback["code"] in page and "未留" in page
    page = await (await elder_client.get(f"/console/callbacks/{callback['_id']}")).text()
    assert "我家那个东西又不行了" in page and "对话记录" in page
    resp = await elder_client.post(f"/console/callbacks/{callback['_id']}", data={"_csrf": csrf, "note": "", "reply": ""})
    assert resp.status == 400 and "请写一下处理情况" in await resp.text()
    resp = await elder_client.post(f"/console/callbacks/{callback['_id']}",
                                   data={"_csrf": csrf, "note": "已上门", "reply": "阿姨，明天上午我们来看看"},
                                   allow_redirects=False)
    assert resp.status == 302
    done = await db.callbacks.find_one({"_id": callback["_id"]})
    assert done["status"] == "done" and done["note"] == "已上门" and done["handled_by"]["name"] == "admin-tianmian"
    notice = await db.notices.find_one({})
    assert notice and "明天上午我们来看看" in str(notice)
    assert await db.audit.count_documents({"action": "callback.done"}) == 1
    resp = await elder_client.post(f"/console/callbacks/{callback['_id']}", data={"_csrf": csrf, "note": "again"})
    assert resp.status == 409
    # Another community's admin cannot see it.
    await elder_client.post("/console/logout", data={"_csrf": csrf})
    await console_login(elder_client, "admin-xintian")
    assert (await elder_client.get(f"/console/callbacks/{callback['_id']}")).status == 404
    assert callback["code"] not in await (await elder_client.get("/console/callbacks?status=all")).text()


async def test_wechat_handoff_transfers_to_customer_service(make_wechat, fake_api, db):  # noqa: F811
    client, wechat = await make_wechat()
    await db.communities.insert_many([{"_id": cid, "name": name, "street": "huafu"} for cid, name in COMMUNITIES])
    assert "手机号" in (await wechat.send("text", Content="9")).text
    assert "1 对" in (await wechat.send("text", Content="1")).text
    answer = await wechat.send("text", Content="1")
    xml = xmltodict.parse(answer.plain)["xml"]
    assert xml["MsgType"] == "transfer_customer_service" and xml["ToUserName"] == OPENID
    sends = await fake_api.wait_for_sends(1)
    assert "登记号 RG" in sends[0].body["text"]["content"] and "转接人工客服" in sends[0].body["text"]["content"]
    assert (await db.callbacks.find_one({}))["channel"] == "wechat"
