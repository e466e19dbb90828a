"""FaqService's editor methods on the in-memory FAQ repository (tests/fakes/faq.py, proven by
tests/contract/test_faq_contract.py): the entries of a staff member's scope, which community a
new entry belongs to, and the refusals; tests/test_faq.py covers the console pages."""
from __future__ import annotations

import pytest

from domain.errors import ForbiddenError, InvalidError, NotFoundError
from services.faq import FaqService
from storage.faq import MAX_QUESTION
from storage.staff import Staff
from tests.fakes.faq import FakeFaqRepository

pytestmark = pytest.mark.unit

C1 = {"community": "c1"}
STREET = {"community": {"$in": ["c1", "c2"]}}
ENTRY = {"question": "轮椅怎么借？", "answer": "凭身份证到服务站免费借。", "keywords": "轮椅、助行器",
         "staff_name": "admin-a"}


def staff(role: str, community: str | None = None) -> Staff:
    return Staff(id="s1", username="s1", name="s1", role=role, community=community)


@pytest.fixture
def service() -> FaqService:
    return FaqService(FakeFaqRepository())


async def test_a_community_admin_writes_their_own_community_others_choose(service):
    assert service.entry_community(staff("community_admin", "c1"), "c2") == "c1"
    assert service.entry_community(staff("community_admin"), "c2") == ""
    assert service.entry_community(staff("street_admin"), "c2") == "c2"
    assert service.entry_community(staff("sysadmin"), "c3") == "c3"


async def test_a_new_entry_answers_the_chat_at_once(service):
    doc = await service.create_entry(C1, ["c1"], community="c1", **ENTRY)
    assert (doc["community"], doc["keywords"], doc["updated_by"]) == ("c1", ["轮椅", "助行器"], "admin-a")
    assert (await service.entry_doc(doc["_id"], C1))["question"] == "轮椅怎么借？"
    assert [e.id for e in await service.entries_in_scope(STREET)] == [doc["_id"]]
    assert (await service.match("c1", "轮椅在哪里借")).entry.id == doc["_id"]


async def test_a_community_not_among_the_choices_is_refused(service):
    for community in ("c2", ""):
        with pytest.raises(InvalidError) as refused:
            await service.create_entry(C1, ["c1"], community=community, **ENTRY)
        assert (refused.value.status, refused.value.zh) == (400, "请选择您管辖的社区")
    assert await service.entries_in_scope({}) == []


async def test_a_community_outside_the_scope_is_forbidden(service):
    with pytest.raises(ForbiddenError) as refused:
        await service.create_entry(C1, ["c1", "c2"], community="c2", **ENTRY)
    assert (refused.value.status, refused.value.zh) == (403, "")


async def test_an_invalid_entry_is_refused_in_chinese(service):
    with pytest.raises(InvalidError) as refused:
        await service.create_entry(C1, ["c1"], community="c1", **{**ENTRY, "answer": " "})
    assert (refused.value.status, refused.value.zh) == (400, "问题和回答都要填写")
    doc = await service.create_entry(C1, ["c1"], community="c1", **ENTRY)
    with pytest.raises(InvalidError) as refused:
        await service.update_entry(doc["_id"], C1, **{**ENTRY, "question": "问" * (MAX_QUESTION + 1)})
    assert refused.value.zh == f"问题不超过{MAX_QUESTION}字"
    assert (await service.entry_doc(doc["_id"], C1))["question"] == ENTRY["question"]


async def test_edits_and_removals_in_scope(service):
    doc = await service.create_entry(STREET, ["c1", "c2"], community="c2", **ENTRY)
    after = await service.update_entry(doc["_id"], STREET, **{**ENTRY, "answer": "到服务站借。", "staff_name": "b"})
    assert (after["answer"], after["updated_by"], after["community"]) == ("到服务站借。", "b", "c2")
    await service.delete_entry(doc["_id"], STREET)
    assert await service.entries_in_scope({}) == []


async def test_entries_missing_or_outside_the_scope_are_not_found(service):
    doc = await service.create_entry({}, ["c2"], community="c2", **ENTRY)
    assert await service.entries_in_scope(C1) == []
    for call in (service.entry_doc(doc["_id"], C1), service.update_entry(doc["_id"], C1, **ENTRY),
                 service.delete_entry(doc["_id"], C1), service.entry_doc("no-such-entry", {}),
                 service.delete_entry("no-such-entry", {})):
        with pytest.raises(NotFoundError) as refused:
            await call
        assert (refused.value.status, refused.value.zh) == (404, "")
    assert (await service.entry_doc(doc["_id"], {}))["question"] == ENTRY["question"]
