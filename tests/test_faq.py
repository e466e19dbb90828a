"""The community FAQ (issue 16.3): matching residents' questions to entries, answering them in
chat (what answered the turn is recorded in `conversations`, never the wording checked), and
the console page (edit rights per role, scope, CSRF, audit with before/after)."""
from __future__ import annotations

import pytest
import pytest_asyncio

from bot import keys
from bot.text import normalize
from services.faq import FaqService
from storage.faq import FaqRepository, seed_faq
from storage.seed import COMMUNITIES
from tests.api_helpers import console_login, csrf_of, fast_argon2, make_staff, seed_places  # noqa: F401

A, B = "huafu-tianmian", "huafu-xintian"  # A is the chat's default community
URL = "/webhooks/rest/webhook"

PARAPHRASES = [
    ("我妈75岁了，能去长者饭堂吃饭吗", "meal"),
    ("残疾人能吃助餐吗", "meal"),
    ("老人食堂怎么收费", "meal"),
    ("轮椅怎么借", "rehab"),
    ("租拐杖要押金吗", "rehab"),
    ("怎么才能赚积分", "points"),
    ("积分能换什么东西", "points"),
    ("能量栈晚上开吗", "station_hours"),
    ("党群服务中心周末开不开", "station_hours"),
    ("受理中心几点下班", "centre_hours"),
    ("办事大厅周六上班吗", "centre_hours"),
]
UNRELATED = [
    "社保怎么转到深圳", "公积金怎么提取", "今天天气怎么样", "我家门口路灯坏了", "户口怎么迁", "停车怎么收费",
    "物业收费太高了", "快递站几点关门", "银行几点开门", "养老金什么时候发", "你是谁", "我想借个梯子",
]


@pytest_asyncio.fixture
async def faq_db(db):
    await seed_places(db)
    await seed_faq(db, [cid for cid, _ in COMMUNITIES])
    return db


# -- matching --------------------------------------------------------------------------


@pytest.mark.parametrize("text,key", PARAPHRASES)
async def test_a_paraphrase_finds_its_entry(faq_db, text, key):
    found = await FaqService(FaqRepository(faq_db)).match(A, text)
    assert found is not None and found.entry.key == key and found.entry.community == A


@pytest.mark.parametrize("text", UNRELATED)
async def test_an_unrelated_question_matches_nothing(faq_db, text):
    assert await FaqService(FaqRepository(faq_db)).match(A, text) is None


async def test_entries_are_per_community_and_edits_apply_at_once(faq_db):
    service = FaqService(FaqRepository(faq_db))
    assert (await service.match(B, "轮椅怎么借")).entry.community == B
    assert await service.match(A, "垃圾分类几点投放") is None
    await faq_db.faq_entries.insert_one({"_id": "new1", "community": A, "key": None, "question": "垃圾分类几点投放？",
                                         "answer": "每天7:00-9:00、19:00-21:00定时定点投放。", "keywords": ["垃圾分类"]})
    found = await service.match(A, "垃圾分类几点投放")  # the cached model of A is refitted
    assert found is not None and found.entry.id == "new1"
    assert await service.match(B, "垃圾分类几点投放") is None


async def test_seeding_keeps_staff_edits(faq_db):
    await faq_db.faq_entries.update_one({"_id": f"{A}:meal"}, {"$set": {"answer": "改过的回答"}})
    await seed_faq(faq_db, [A])
    assert (await faq_db.faq_entries.find_one({"_id": f"{A}:meal"}))["answer"] == "改过的回答"
    assert await faq_db.faq_entries.count_documents({"community": A}) == 5


# -- chat --------------------------------------------------------------------------------


class Pinned:
    """The real model, except for pinned texts (to reach an intent whatever the model says)."""

    def __init__(self, real) -> None:
        self.real, self.pins = real, {}

    @property
    def ready(self) -> bool:
        return self.real.ready

    async def parse(self, text: str):
        intent = self.pins.get(text)
        if intent is None:
            return await self.real.parse(text)
        return {"text": text, "intent": {"name": intent, "confidence": 0.95}, "entities": [], "intent_ranking": []}


@pytest_asyncio.fixture
async def chat(faq_db, client):
    nlu = Pinned(client.app[keys.CHAT].nlu)
    client.app[keys.CHAT].nlu = nlu
    return client, nlu


async def say(client, sender: str, text: str) -> dict:
    """Send one message; the logged turn and the dialogue state after it."""
    resp = await client.post(URL, json={"sender": sender, "message": text})
    assert resp.status == 200 and await resp.json()
    db = client.app[keys.MONGO]
    logged = await db.conversations.find({"user_key": f"rest:{sender}"}).sort("_id", -1).limit(1).to_list(1)
    state = await client.app[keys.CHAT].states.load(f"rest:{sender}")
    return {"intent": logged[0]["intent"], "answer": logged[0].get("answer"), "flow": state.flow}


async def test_a_rules_question_is_answered_from_the_faq_whatever_the_intent(chat):
    client, _ = chat
    for n, (text, key) in enumerate([("老年助餐谁可以吃？怎么收费？", "meal"), ("积分怎么攒，能换什么", "points"),
                                     ("康复辅具租赁要押金吗", "rehab")]):
        turn = await say(client, f"u{n}", text)
        assert turn["answer"] and turn["answer"]["source"] == "faq", turn
        assert turn["answer"]["key"] == key and turn["answer"]["faq_id"] == f"{A}:{key}"
        assert turn["flow"] is None  # no flow started


@pytest.mark.parametrize("intent", ["policy_question", "out_of_scope", "nlu_fallback", "help"])
async def test_question_intents_consult_the_faq(chat, intent):
    client, nlu = chat
    nlu.pins[normalize("社区事务受理服务中心几点上班")] = intent
    turn = await say(client, "asker", "社区事务受理服务中心几点上班")
    assert turn["intent"] == intent and turn["flow"] is None
    assert turn["answer"]["key"] == "centre_hours"


async def test_a_policy_question_without_an_entry_keeps_the_12345_answer(chat):
    client, nlu = chat
    nlu.pins[normalize("我的社保怎么转到深圳来")] = "policy_question"
    turn = await say(client, "policy", "我的社保怎么转到深圳来")
    assert turn == {"intent": "policy_question", "answer": None, "flow": None}


async def test_a_capability_request_still_starts_its_flow(chat):
    client, nlu = chat
    from storage.bookings import seed_catalog

    await seed_catalog(client.app[keys.MONGO])
    nlu.pins[normalize("帮我预约助餐")] = "book_service"
    turn = await say(client, "booker", "帮我预约助餐")
    assert turn["answer"] is None and turn["flow"] is not None
    nlu.pins[normalize("附近的驿站几点开门")] = "find_station"
    turn = await say(client, "walker", "附近的驿站几点开门")
    assert turn["answer"] is None  # the station search answers, not the FAQ


async def test_a_rules_question_with_a_capability_intent_is_answered_from_the_faq(chat):
    client, nlu = chat
    nlu.pins[normalize("助餐谁能吃")] = "book_service"
    turn = await say(client, "rules", "助餐谁能吃")
    assert turn["intent"] == "book_service" and turn["answer"]["key"] == "meal" and turn["flow"] is None


# -- console -----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def staff(faq_db, make_client):
    await make_staff(faq_db, "admin-a", "community_admin", A)
    await make_staff(faq_db, "grid-a", "grid_worker", A)
    await make_staff(faq_db, "street", "street_admin", street="huafu")
    return make_client


async def logged_in(make_client, username: str):
    client = await make_client()
    return client, await console_login(client, username)


async def test_community_admin_edits_their_entries_audited(staff, faq_db):
    client, token = await logged_in(staff, "admin-a")
    text = await (await client.get("/console/faq")).text()
    assert f"/console/faq/{A}:meal" in text and f"/console/faq/{B}:meal" not in text
    form = {"question": "垃圾分类几点投放？", "answer": "每天7:00-9:00、19:00-21:00定时定点投放。", "keywords": "垃圾分类、垃圾投放"}
    assert (await client.post("/console/faq/new", data=form, allow_redirects=False)).status == 403  # no CSRF
    resp = await client.post("/console/faq/new", data={**form, "_csrf": token, "community": B}, allow_redirects=False)
    assert resp.status == 302
    created = await faq_db.faq_entries.find_one({"question": "垃圾分类几点投放？"})
    assert created["community"] == A and created["keywords"] == ["垃圾分类", "垃圾投放"]  # their community, not B
    assert created["updated_by"] == "admin-a"
    audit = await faq_db.audit.find_one({"action": "faq.create", "record_id": created["_id"]})
    assert audit["before"] is None and audit["after"]["question"] == form["question"] and audit["community"] == A

    resp = await client.post(f"/console/faq/{A}:meal", allow_redirects=False, data={
        "_csrf": token, "question": "老年助餐谁可以吃？", "answer": "60周岁以上老人，每餐8元。", "keywords": "助餐"})
    assert resp.status == 302
    audit = await faq_db.audit.find_one({"action": "faq.update", "record_id": f"{A}:meal"})
    assert audit["before"]["question"] == "老年助餐谁可以吃？怎么收费？"
    assert audit["after"] == {"community": A, "key": "meal", "question": "老年助餐谁可以吃？",
                              "answer": "60周岁以上老人，每餐8元。", "keywords": ["助餐"]}
    resp = await client.post(f"/console/faq/{A}:meal", data={"_csrf": token, "question": "", "answer": "x"})
    assert resp.status == 400 and (await faq_db.faq_entries.find_one({"_id": f"{A}:meal"}))["answer"] != "x"

    resp = await client.post(f"/console/faq/{A}:rehab/delete", data={"_csrf": token}, allow_redirects=False)
    assert resp.status == 302 and await faq_db.faq_entries.find_one({"_id": f"{A}:rehab"}) is None
    audit = await faq_db.audit.find_one({"action": "faq.delete", "record_id": f"{A}:rehab"})
    assert audit["before"]["key"] == "rehab" and audit["after"] is None


async def test_the_chat_uses_an_entry_staff_added(staff, faq_db):
    client, token = await logged_in(staff, "admin-a")
    form = {"_csrf": token, "question": "垃圾分类几点投放？", "answer": "每天7:00-9:00、19:00-21:00定时定点投放。",
            "keywords": "垃圾分类"}
    assert (await client.post("/console/faq/new", data=form, allow_redirects=False)).status == 302
    created = await faq_db.faq_entries.find_one({"question": "垃圾分类几点投放？"})
    chat = client.app[keys.CHAT]
    chat.nlu = Pinned(chat.nlu)
    chat.nlu.pins[normalize("垃圾分类是几点投放啊")] = "out_of_scope"
    turn = await say(client, "neighbour", "垃圾分类是几点投放啊")
    assert turn["answer"]["faq_id"] == created["_id"]


async def test_other_communities_entries_are_out_of_reach(staff, faq_db):
    client, token = await logged_in(staff, "admin-a")
    assert (await client.get(f"/console/faq/{B}:meal")).status == 404
    resp = await client.post(f"/console/faq/{B}:meal", data={"_csrf": token, "question": "改", "answer": "改"})
    assert resp.status == 404
    assert (await client.post(f"/console/faq/{B}:meal/delete", data={"_csrf": token})).status == 404
    assert (await faq_db.faq_entries.find_one({"_id": f"{B}:meal"}))["question"] == "老年助餐谁可以吃？怎么收费？"
    assert await faq_db.audit.count_documents({"collection": "faq_entries"}) == 0


async def test_grid_workers_and_street_admins_read_only(staff, faq_db):
    grid, token = await logged_in(staff, "grid-a")
    text = await (await grid.get("/console/faq")).text()
    assert f"/console/faq/{A}:meal" in text and f"/console/faq/{B}:meal" not in text and "/console/faq/new" not in text
    page = await (await grid.get(f"/console/faq/{A}:meal")).text()
    assert 'name="question"' not in page and "老年助餐谁可以吃" in page
    assert (await grid.post(f"/console/faq/{A}:meal", data={"_csrf": token, "question": "q", "answer": "a"})).status == 403
    assert (await grid.post("/console/faq/new", data={"_csrf": token, "question": "q", "answer": "a"})).status == 403

    street, token = await logged_in(staff, "street")
    text = await (await street.get("/console/faq")).text()
    assert f"/console/faq/{A}:meal" in text and f"/console/faq/{B}:meal" in text
    assert (await street.post(f"/console/faq/{B}:meal/delete", data={"_csrf": token})).status == 403
    assert await faq_db.faq_entries.count_documents({}) == 5 * len(COMMUNITIES)


async def test_the_try_out_shows_which_entry_answers(staff):
    client, _ = await logged_in(staff, "grid-a")
    text = await (await client.get("/console/faq", params={"q": "轮椅怎么借"})).text()
    assert "会用这条回答" in text and f"/console/faq/{A}:rehab" in text
    text = await (await client.get("/console/faq", params={"q": "公积金怎么提取"})).text()
    assert "会用这条回答" not in text and "不够相似" in text
