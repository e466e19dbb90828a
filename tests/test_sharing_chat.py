"""共享社区 and 积分 in chat, end to end through the REST channel: real app, trained model,
Redis and the MongoDB-compatible server. Menu digits drive the numbered choices; names,
times and details are typed."""
from __future__ import annotations

import pytest

from services.content_check import seed_words
from services.points import seed_points
from storage.ledger import ISSUER, LedgerRepository, resident_account
from storage.residents import ResidentRepository

URL = "/webhooks/rest/webhook"
COMMUNITY = "huafu-tianmian"


@pytest.fixture
async def chat(client, db):
    await seed_points(db, [COMMUNITY])
    await seed_words(db)

    async def say(sender: str, *texts: str) -> str:
        reply = ""
        for text in texts:
            resp = await client.post(URL, json={"sender": sender, "message": text})
            assert resp.status == 200, await resp.text()
            reply = "\n".join(r["text"] for r in await resp.json())
        return reply

    return say


async def resident(db, sender: str):
    return await ResidentRepository(db).for_user_key(f"rest:{sender}", COMMUNITY)


async def notices_of(db, sender: str) -> list[str]:
    person = await resident(db, sender)
    return [doc["text"] async for doc in db["notices"].find({"resident_id": person.id})]


async def test_share_then_borrow_end_to_end_in_chat(chat, db):
    hub = await chat("owner", "5")
    assert "邻里共享" in hub and "2 分享物品或技能" in hub
    assert "物品" in await chat("owner", "2")
    assert "写个名称" in await chat("owner", "1")
    assert "借给邻居，还是送给邻居" in await chat("owner", "铝合金梯子")
    assert "新旧" in await chat("owner", "1")
    assert "什么时候方便" in await chat("owner", "2")
    confirm = await chat("owner", "2")
    assert "请确认" in confirm and "铝合金梯子" in confirm and "九成新" in confirm and "周末" in confirm
    assert await db["share_posts"].count_documents({}) == 0  # nothing before the confirmation
    assert "发布成功" in await chat("owner", "1")
    post = await db["share_posts"].find_one({})
    assert post["title"] == "铝合金梯子" and post["mode"] == "lend" and post["community"] == COMMUNITY

    await chat("ann", "5")
    assert "想借什么" in await chat("ann", "1")
    results = await chat("ann", "梯子")
    assert "1 铝合金梯子" in results
    assert "哪天开始用" in await chat("ann", "1")
    assert "借几天" in await chat("ann", "2")
    confirm = await chat("ann", "2")
    assert "请确认" in confirm and "铝合金梯子" in confirm
    assert "已把申请发给邻居" in await chat("ann", "1")
    loan = await db["share_loans"].find_one({})
    assert loan["state"] == "requested" and loan["borrower_id"] == (await resident(db, "ann")).id
    assert any("想借您的“铝合金梯子”" in text for text in await notices_of(db, "owner"))

    mine = await chat("owner", "5", "5")
    assert "邻居借您的“铝合金梯子”" in mine and "等主人回复" in mine
    detail = await chat("owner", "1")
    assert "1 同意借出" in detail and "2 婉拒" in detail
    assert "已同意" in await chat("owner", "1")
    assert (await db["share_loans"].find_one({}))["state"] == "accepted"
    assert any("同意借给您" in text for text in await notices_of(db, "ann"))
    detail = await chat("owner", "5", "5", "1")
    assert "登记借出" in detail and "留言" in detail  # accepted: the two sides can reach each other
    assert "已登记借出" in await chat("owner", "3")
    assert "东西已归还" in await chat("owner", "5", "5", "1")
    assert "已登记归还" in await chat("owner", "1")
    loan = await db["share_loans"].find_one({})
    assert loan["state"] == "returned" and loan["handed_over_at"] <= loan["returned_at"]
    assert (await db["share_posts"].find_one({}))["state"] == "available"


async def test_content_check_rejection_in_chat_says_why(chat, db):
    await chat("owner", "5", "2", "1")
    reply = await chat("owner", "代开发票")
    assert "代开发票" in reply and "广告" in reply and "写个名称" in reply
    assert "借给邻居，还是送给邻居" in await chat("owner", "旧书架")  # a fixed title goes on
    assert await db["share_posts"].count_documents({}) == 0


async def test_help_request_volunteer_and_points_in_chat(chat, db):
    await chat("ann", "5")
    assert "需要邻居帮什么忙" in await chat("ann", "3")
    assert "什么时候需要" in await chat("ann", "1")
    assert "在哪里" in await chat("ann", "明天下午4点半")
    assert "具体要帮什么" in await chat("ann", "华富小学门口")
    confirm = await chat("ann", "从华富小学门口接孩子到3栋楼下")
    assert "接孩子" in confirm and "华富小学" in confirm
    assert "已发布" in await chat("ann", "1")

    listing = await chat("bob", "5", "4")
    assert "1 接孩子" in listing
    assert "怎么称呼您" in await chat("bob", "1")  # a child pickup: the parent learns who comes
    await chat("bob", "王阿姨")
    assert "要接下这个求助吗" in await chat("bob", "13800138000")
    assert "谢谢您" in await chat("bob", "1")
    assert "没有待接的求助" in await chat("cat", "5", "4")  # taken: no longer offered

    mine = await chat("ann", "5", "6")
    assert "有邻居接了" in mine
    assert "确认完成" in await chat("ann", "1")
    assert "已确认完成" in await chat("ann", "1")
    bob = await resident(db, "bob")
    assert await LedgerRepository(db).balance(resident_account(bob.id)) == 10

    summary = await chat("bob", "6")
    assert "10 积分" in summary and "帮邻居完成求助" in summary
    board = await chat("bob", "2")
    assert "荣誉榜" in board and "（您） · 10分" in board


async def test_redeem_in_the_points_shop_in_chat(chat, db):
    bob = await resident(db, "bob")
    await chat("bob", "6")
    shop = await chat("bob", "1")
    assert "积分超市" in shop and "1 洗衣皂 · 20分 · 剩50件" in shop
    assert "还差 20 分" in await chat("bob", "1")
    await LedgerRepository(db).post("test-seed", resident_account(bob.id), ISSUER, 50, "award", earned=50)
    await chat("bob", "6", "1")
    confirm = await chat("bob", "1")
    assert "用 20 积分兑换“洗衣皂”" in confirm and "剩 30 分" in confirm
    done = await chat("bob", "1")
    assert "兑换成功" in done and "领取码" in done
    assert "兑换成功" not in await chat("bob", "1")  # a repeated 1 does not redeem again (it is the main menu's 1)
    await chat("bob", "0")
    assert await db["shop_reservations"].count_documents({"state": "reserved"}) == 1
    assert (await db["shop_items"].find_one({"_id": f"{COMMUNITY}-soap"}))["stock"] == 49
    mine = await chat("bob", "6", "3")
    assert "洗衣皂" in mine and "待领取" in mine
    assert "要取消吗" in await chat("bob", "1")
    assert "积分已退回" in await chat("bob", "1")
    assert await LedgerRepository(db).balance(resident_account(bob.id)) == 50
    assert (await db["shop_items"].find_one({"_id": f"{COMMUNITY}-soap"}))["stock"] == 50
