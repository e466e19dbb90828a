"""共享社区 and 积分 dialogue flows through the real router, Redis state and MongoDB, with
the NLU's output given directly (intent and entities) so every branch is reachable."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from bot.bootstrap import points_service, sharing_service
from bot.config import Settings
from bot.messages import InboundMessage
from handlers import registry
from handlers.base import MENU_SELECT, Services, Turn
from handlers.router import Router
from services import events
from services.content_check import seed_words
from services.notify import Notifier
from services.points import seed_points
from services.residents import ResidentService
from services.sharing import today
from storage.communities import CommunityRepository
from storage.elder_prefs import ElderPreferences
from storage.dialogue_state import DialogueStateStore
from storage.ledger import ISSUER, resident_account
from storage.notices import NoticeRepository
from storage.residents import ResidentRepository

COMMUNITY = "huafu-tianmian"


class Chat:
    def __init__(self, db, redis) -> None:
        residents = ResidentRepository(db)
        notifier = Notifier(NoticeRepository(db), residents)
        self.db = db
        self.residents = residents
        self.points = points_service(db, residents, notifier)
        bus = events.EventBus()  # like the app's: the points rules subscribe on the bus the services get
        bus.subscribe(events.HelpCompleted, self.points.on_event)
        self.sharing = sharing_service(db, residents, notifier, bus)
        people = ResidentService(residents, CommunityRepository(db), ElderPreferences(redis),
                                 default_community=COMMUNITY)
        self.services = Services(settings=Settings(default_community=COMMUNITY), residents=people,
                                 sharing=self.sharing, points=self.points)
        self.store = DialogueStateStore(redis, 600)
        self.router = Router(registry)

    async def __call__(self, sender: str, text: str, intent: str | None = None, *, channel: str = "rest",
                       entities: dict[str, Any] | None = None, kind: str = "text", media: dict | None = None,
                       elder: bool = False, confidence: float = 1.0) -> str:
        message = InboundMessage(channel=channel, sender=sender, text=text, kind=kind, media=media)
        state = await self.store.load(message.user_key)
        state.elder_mode = elder
        if intent is None:
            intent = MENU_SELECT if text.isdigit() else "nlu_fallback"
        turn = Turn(message=message, text=text, intent=intent, confidence=confidence,
                    entities=[{"entity": k, "value": v} for k, v in (entities or {}).items()],
                    state=state, services=self.services)
        replies = await self.router.dispatch(turn)
        await self.store.save(message.user_key, turn.state)
        return "\n".join(r.text for r in replies)

    async def resident(self, sender: str, channel: str = "rest"):
        return await self.residents.for_user_key(f"{channel}:{sender}", COMMUNITY)

    async def flow(self, sender: str) -> tuple[str | None, str | None]:
        state = await self.store.load(f"rest:{sender}")
        return state.flow, state.step


@pytest.fixture
async def chat(db, redis):
    await seed_points(db, [COMMUNITY])
    await seed_words(db)
    return Chat(db, redis)


@pytest.mark.parametrize("elder", [False, True])
async def test_share_borrow_and_handle_in_every_step(chat, elder):
    say = lambda *a, **k: chat(*a, elder=elder, **k)  # noqa: E731
    assert "邻里共享" in await say("owner", "5", "borrow_item")
    assert "没有“7”这个选项" in await say("owner", "7")
    await say("owner", "2")
    assert "没太听明白" in await say("owner", "随便")
    assert await chat.flow("owner") == ("share_new", "kind")
    await say("owner", "1")
    rejected = await say("owner", "代开发票")
    assert "代开发票" in rejected and "广告" in rejected
    assert await chat.flow("owner") == ("share_new", "title")
    assert "借给邻居，还是送给邻居" in await say("owner", "铝合金梯子")
    assert "新旧" in await say("owner", "1")
    assert "没有“8”这个选项" in await say("owner", "8")  # not a condition number: asked again
    assert await chat.flow("owner") == ("share_new", "condition")
    await say("owner", "2")
    confirm = await say("owner", "每天晚上7点后")
    assert "每天晚上7点后" in confirm and "九成新" in confirm
    assert "发布成功" in await say("owner", "好的", "affirm")
    assert await chat.db["share_posts"].count_documents({}) == 1

    # Borrowing: "谁家有梯子" with the NLU's item entity goes straight to the results.
    results = await say("ann", "谁家有梯子", "borrow_item", entities={"item": "梯子"})
    assert "1 铝合金梯子" in results
    assert "没有“5”这个选项" in await say("ann", "5")
    await say("ann", "1")
    assert await chat.flow("ann") == ("borrow", "start")
    assert "没太听明白" in await say("ann", "找个时间")
    assert "借几天" in await say("ann", "明天")
    assert await chat.flow("ann") == ("borrow", "days")
    assert "借几天" in await say("ann", "不知道")  # not skippable: asked again
    confirm = await say("ann", "5天")
    start = today() + timedelta(days=1)
    end = start + timedelta(days=4)
    assert f"{start.month}月{start.day}日" in confirm and f"5天（至{end.month}月{end.day}日）" in confirm
    assert "请确认" in await say("ann", "这是什么意思")
    assert await chat.flow("ann") == ("borrow", "confirm")
    assert "已把申请发给邻居" in await say("ann", "1")
    assert await chat.flow("ann") == (None, None)

    # Another neighbour asks too; once the owner accepts Ann, Bob waits in line.
    await say("bob", "5", "borrow_item")
    assert "想借什么" in await say("bob", "1")
    await say("bob", "梯子")
    await say("bob", "1")
    await say("bob", "1")  # today
    await say("bob", "1")  # one day
    assert "已把申请发给邻居" in await say("bob", "1")

    await say("owner", "5", "borrow_item")
    mine = await say("owner", "5")
    assert mine.count("邻居借您的“铝合金梯子”") == 2
    assert "同意借出" in await say("owner", "2")  # Ann asked first, so she is listed second
    assert "已同意" in await say("owner", "1")
    await say("bob", "5", "borrow_item")
    bob_view = await say("bob", "5")
    assert "您借的“铝合金梯子”" in bob_view and "排队中" in bob_view
    assert "排第1位" in await say("bob", "1")
    assert "已取消" in await say("bob", "1")

    await say("owner", "5", "borrow_item")
    await say("owner", "5")
    detail = await say("owner", "1")
    assert "登记借出" in detail and "留言" in detail
    assert "已登记借出" in await say("owner", "3")
    await say("owner", "5", "borrow_item")
    await say("owner", "5")
    await say("owner", "1")
    assert "已登记归还" in await say("owner", "1")
    await say("owner", "5", "borrow_item")
    assert "没有要处理的借用" in await say("owner", "5")


async def test_search_without_results_offers_a_help_request(chat):
    empty = await chat("ann", "有没有电钻", "borrow_item", entities={"item": "电钻"})
    assert "暂时没有邻居分享“电钻”" in empty and "2 发个求助问问邻居" in empty
    assert "什么时候需要" in await chat("ann", "2")
    assert await chat.flow("ann") == ("help_new", "when")
    await chat("ann", "这周末")
    confirm = await chat("ann", "跳过")  # kind and details were prefilled: the read-back
    assert "谁家有电钻能借我用一下" in confirm and "这周末" in confirm
    assert "已发布" in await chat("ann", "1")


async def test_share_a_skill_and_a_photo_on_wechat(chat):
    # "我会通下水道": the skill and its title come from the first message.
    assert "什么时候方便" in await chat("fixer", "我会通下水道", "share_item", channel="wechat")
    assert "照片" in await chat("fixer", "1", channel="wechat")
    confirm = await chat("fixer", "", "share_photo", channel="wechat", kind="image",
                         media={"media_id": "m1", "pic_url": "https://example.invalid/p.jpg"})
    assert "收到照片" in confirm and "照片：1张" in confirm
    assert "发布成功" in await chat("fixer", "1", channel="wechat")
    post = await chat.db["share_posts"].find_one({})
    assert post["kind"] == "skill" and post["title"] == "通下水道" and post["photo"]["media_id"] == "m1"


async def test_publishing_rejected_at_confirmation_asks_again(chat):
    await chat("ann", "分享", "share_item")
    await chat("ann", "1")
    await chat("ann", "旧书架")
    await chat("ann", "2")  # give
    await chat("ann", "3")
    confirm = await chat("ann", "周末")
    assert "送给邻居" in confirm
    await chat.sharing.checker.add_word("书架", "测试")  # staff add a word meanwhile
    rejected = await chat("ann", "1")
    assert "“书架”（测试）" in rejected and "写个名称" in rejected
    assert await chat.db["share_posts"].count_documents({}) == 0
    assert "请确认" in await chat("ann", "旧柜子")
    assert "已取消" in await chat("ann", "取消")
    assert await chat.flow("ann") == (None, None)


async def test_help_request_volunteer_and_confirmation(chat):
    first = await chat("ann", "谁能帮我明天下午接孩子", "request_help",
                       entities={"time": "2030-01-01T16:00:00+08:00"})
    assert "在哪里" in first  # kind, time and details from the first message
    confirm = await chat("ann", "华富小学门口")
    assert "请确认" in confirm and "接孩子" in confirm and "1月1日 16:00" in confirm
    assert "已发布" in await chat("ann", "1")
    assert "没有待接的求助" in (await chat("ann", "5", "borrow_item") and await chat("ann", "4"))
    listing = await chat("bob", "5", "borrow_item") and await chat("bob", "4")
    assert "1 接孩子" in listing
    assert "怎么称呼您" in await chat("bob", "1")  # a child pickup: the parent learns who comes
    await chat("bob", "王阿姨")
    confirm = await chat("bob", "13800138000")
    assert "要接下这个求助吗" in confirm and "王阿姨" in confirm
    assert "谢谢您" in await chat("bob", "1")
    ann = await chat.resident("ann")
    told = [d["text"] async for d in chat.db["notices"].find({"resident_id": ann.id})]
    assert any("王阿姨" in t and "13800138000" in t for t in told)
    volunteer_view = await chat("bob", "5", "borrow_item") and await chat("bob", "6")
    assert "我帮邻居：接孩子" in volunteer_view
    assert "留言" in await chat("bob", "1")
    await chat("bob", "0", "help")
    mine = await chat("ann", "5", "borrow_item") and await chat("ann", "6")
    assert "我的求助：接孩子" in mine and "有邻居接了" in mine
    assert "1 邻居已帮我办好了" in await chat("ann", "1")
    assert "已确认完成" in await chat("ann", "1")
    # The volunteer's points come through the event bus, as in the app.
    bob = await chat.resident("bob")
    assert await chat.points.balance(bob.id) == 10


async def test_help_kinds_and_cancel(chat):
    assert "需要邻居帮什么忙" in await chat("ann", "帮忙", "request_help")
    assert "没有“7”这个选项" in await chat("ann", "7")
    assert "什么时候需要" in await chat("ann", "2")
    await chat("ann", "每周六上午")
    assert "具体要帮什么" in await chat("ann", "跳过")
    assert "没有“3”这个选项" in await chat("ann", "3")
    confirm = await chat("ann", "陪我妈去社康看病")
    assert "陪老人" in confirm and "每周六上午" in confirm
    assert "已发布" in await chat("ann", "1")
    await chat("ann", "5", "borrow_item")
    await chat("ann", "6")
    detail = await chat("ann", "1")
    assert "1 取消求助" in detail
    assert "求助已取消" in await chat("ann", "1")


@pytest.mark.parametrize("elder", [False, True])
async def test_points_passbook_shop_board_and_redemptions(chat, elder):
    say = lambda *a, **k: chat(*a, elder=elder, **k)  # noqa: E731
    bob = await chat.resident("bob")
    summary = await say("bob", "6", "check_points")
    assert "0 积分" in summary and "1 积分超市兑换" in summary
    assert "还差 20 分" in (await say("bob", "1") and await say("bob", "1"))
    await chat.points.ledger.post("seed", resident_account(bob.id), ISSUER, 45, "earn", memo="有效报事", earned=45,
                                  community=COMMUNITY)
    summary = await say("bob", "6", "check_points")
    assert "45 积分" in summary and "+45 有效报事" in summary
    board = await say("bob", "2")
    assert "本社区荣誉榜" in board and "（您） · 45分" in board
    await say("bob", "6", "check_points")
    assert "+45" in await say("bob", "4")
    # "我要兑换洗衣皂" names the item: straight to the confirmation.
    confirm = await say("bob", "我要兑换洗衣皂", "redeem_points")
    assert "用 20 积分兑换“洗衣皂”" in confirm
    assert "已经取消" in await say("bob", "2")
    await say("bob", "积分能换什么", "redeem_points")
    assert "没有“7”这个选项" in await say("bob", "7")
    await say("bob", "积分能换什么", "redeem_points")
    await say("bob", "1")
    done = await say("bob", "1")
    assert "兑换成功" in done and "领取码" in done
    await say("bob", "6", "check_points")
    listing = await say("bob", "3")
    assert "洗衣皂" in listing and "待领取" in listing
    assert "要取消吗" in await say("bob", "1")
    assert "兑换保留着" in await say("bob", "2")
    await say("bob", "6", "check_points")
    await say("bob", "3")
    await say("bob", "1")
    assert "积分已退回" in await say("bob", "1")
    assert await chat.points.balance(bob.id) == 45


async def test_hub_text_for_another_sharing_intent_starts_that_flow(chat):
    await chat("ann", "5", "borrow_item")
    reply = await chat("ann", "我有台婴儿车想送人", "share_item", entities={"item": "婴儿车"}, confidence=0.95)
    assert "新旧" in reply  # thing, title and "give" were understood from the one message
    assert await chat.flow("ann") == ("share_new", "condition")
    await chat("ann", "0", "help")  # leaves the flow, as the global key 0 does
    await chat("ann", "5", "borrow_item")
    assert "什么时候需要" in await chat("ann", "想找人帮我买菜", "request_help", confidence=0.9)
