"""Contract of FaqRepository: the real one and the fake agree (what FaqService uses)."""
from __future__ import annotations

import pytest

from storage.faq import MAX_ANSWER, MAX_ENTRIES, MAX_QUESTION, FaqEntry, FaqRepository
from storage.scope import OutOfScope
from tests.contract import repository
from tests.fakes.faq import FakeFaqRepository

pytestmark = pytest.mark.contract

C1 = {"community": "c1"}
STREET = {"community": {"$in": ["c1", "c2"]}}

faq = repository(FaqRepository, FakeFaqRepository)


async def add(repo, community: str = "c1", question: str = "轮椅怎么借？", scope=None, **kw):
    fields = {"answer": "凭身份证到服务站借。", "keywords": "轮椅、助行器", "staff_name": "admin-a", **kw}
    return await repo.create(C1 if scope is None else scope, community=community, question=question, **fields)


async def test_a_new_entry_is_cleaned_and_read_back_in_scope(faq):
    doc = await add(faq, question="  轮椅怎么借？ ", keywords="轮椅、助行器 轮椅，拐杖")
    assert (doc["community"], doc["key"], doc["question"], doc["keywords"]) == (
        "c1", None, "轮椅怎么借？", ["轮椅", "助行器", "拐杖"])
    got = await faq.get_doc(doc["_id"], C1)
    assert {k: got[k] for k in ("_id", "question", "answer", "keywords", "updated_by")} == {
        k: doc[k] for k in ("_id", "question", "answer", "keywords", "updated_by")}
    assert got["updated_at"].tzinfo is not None
    assert await faq.get_doc(doc["_id"], {"community": "c2"}) is None
    assert await faq.get_doc(doc["_id"], STREET) is not None
    assert await faq.get_doc("no-such-entry", {}) is None
    assert await faq.count("c1") == 1 and await faq.count("c2") == 0


async def test_entries_outside_the_scope_and_invalid_ones_are_refused(faq):
    with pytest.raises(OutOfScope):
        await add(faq, "c2")
    for question, answer, message in (("", "a", "问题和回答都要填写"), ("q", " ", "问题和回答都要填写"),
                                      ("问" * (MAX_QUESTION + 1), "a", f"问题不超过{MAX_QUESTION}字"),
                                      ("q", "答" * (MAX_ANSWER + 1), f"回答不超过{MAX_ANSWER}字")):
        with pytest.raises(ValueError) as refused:
            await add(faq, question=question, answer=answer)
        assert str(refused.value) == message
    assert await faq.list({}) == []


async def test_a_community_holds_at_most_max_entries(faq):
    for n in range(MAX_ENTRIES):
        await add(faq, "c2", f"问题{n}", scope={})
    with pytest.raises(ValueError) as refused:
        await add(faq, "c2", "再来一条", scope={})
    assert str(refused.value) == f"每个社区最多{MAX_ENTRIES}条问答"
    assert (await add(faq, "c1"))["community"] == "c1"


async def test_lists_by_scope_and_by_community(faq):
    b = await add(faq, "c2", "助餐怎么收费？", scope={})
    a1 = await add(faq, "c1", "轮椅怎么借？")
    a2 = await add(faq, "c1", "积分怎么用？")
    await add(faq, "c3", "驿站几点开？", scope={})
    listed = await faq.list(STREET)
    assert [e.id for e in listed] == [a1["_id"], a2["_id"], b["_id"]]
    assert all(isinstance(e, FaqEntry) for e in listed)
    assert [e.question for e in await faq.list(C1)] == ["轮椅怎么借？", "积分怎么用？"]
    assert len(await faq.list({})) == 4
    assert [e.id for e in await faq.for_community("c1")] == [a1["_id"], a2["_id"]]


async def test_update_and_delete_hold_the_scope(faq):
    doc = await add(faq)
    changed = await faq.update(doc["_id"], C1, question="轮椅去哪借？", answer="服务站。", keywords="轮椅",
                               staff_name="admin-b")
    assert [changed[k] for k in ("_id", "community", "question", "keywords", "updated_by")] == [
        doc["_id"], "c1", "轮椅去哪借？", ["轮椅"], "admin-b"]
    assert (await faq.get_doc(doc["_id"], C1))["answer"] == "服务站。"
    assert await faq.update(doc["_id"], {"community": "c2"}, question="q", answer="a", keywords="",
                            staff_name="x") is None
    assert await faq.update("no-such-entry", {}, question="q", answer="a", keywords="",
                            staff_name="x") is None
    with pytest.raises(ValueError):
        await faq.update(doc["_id"], C1, question="", answer="a", keywords="", staff_name="x")
    assert (await faq.get_doc(doc["_id"], C1))["question"] == "轮椅去哪借？"
    assert await faq.delete(doc["_id"], {"community": "c2"}) is False
    assert await faq.delete(doc["_id"], C1) is True
    assert await faq.delete(doc["_id"], C1) is False and await faq.get_doc(doc["_id"], {}) is None
