"""HandoffService's console methods on the in-memory callback repository (tests/fakes/handoff.py,
proven by tests/contract/test_handoff_contract.py): the requests of a staff member's scope and
marking one handled; tests/test_elder.py covers the page and the reply sent to the resident."""
from __future__ import annotations

import pytest

from domain.errors import ConflictError, InvalidError, NotFoundError
from services.handoff import ALL, MAX_NOTE, HandoffService
from storage.callbacks import DONE, OPEN
from tests.fakes.handoff import FakeCallbackRepository

pytestmark = pytest.mark.unit

C1 = {"community": "c1"}
STAFF = {"id": "s1", "name": "王网格"}
TURNS = [{"at": None, "kind": "text", "text": "帮我找个人", "intent": "handoff", "replies": []}]


class World:
    def __init__(self) -> None:
        self.callbacks = FakeCallbackRepository()
        # The console's methods never read the conversation log.
        self.service = HandoffService(self.callbacks, conversations=None)  # type: ignore[arg-type]

    async def ask(self, resident_id: str, community: str = "c1"):
        item, _ = await self.callbacks.open_request(
            resident_id=resident_id, user_key=f"rest:{resident_id}", channel="rest", community=community,
            phone=None, reason="asked", turns=TURNS, elder=False)
        return item


@pytest.fixture
def world() -> World:
    return World()


async def test_staff_list_the_open_requests_of_their_scope_by_default(world):
    mine, theirs = await world.ask("r1", "c1"), await world.ask("r2", "c2")
    assert [c.id for c in await world.service.callbacks_in_scope(C1)] == [mine.id]
    assert {c.id for c in await world.service.callbacks_in_scope({})} == {mine.id, theirs.id}
    await world.service.mark_done(mine.id, C1, STAFF, "已回电")
    assert await world.service.callbacks_in_scope(C1) == []
    assert [c.id for c in await world.service.callbacks_in_scope(C1, DONE)] == [mine.id]
    assert [c.id for c in await world.service.callbacks_in_scope(C1, ALL)] == [mine.id]
    assert sorted(c.status for c in await world.service.callbacks_in_scope({}, ALL)) == [DONE, OPEN]


async def test_an_unknown_list_is_refused(world):
    with pytest.raises(InvalidError) as refused:
        await world.service.callbacks_in_scope(C1, "closed")
    assert (refused.value.status, refused.value.zh) == (400, "")


async def test_one_request_with_its_conversation_in_scope_only(world):
    item = await world.ask("r1", "c1")
    got = await world.service.callback(item.id, C1)
    assert got.id == item.id and got.turns == TURNS
    for callback_id, scope in ((item.id, {"community": "c2"}), ("no-such-request", {})):
        with pytest.raises(NotFoundError) as refused:  # missing or outside the scope: one answer
            await world.service.callback(callback_id, scope)
        assert (refused.value.status, refused.value.zh) == (404, "")


async def test_marking_done_keeps_the_note_and_who_handled_it(world):
    item = await world.ask("r1")
    before, after = await world.service.mark_done(item.id, C1, STAFF, "  已上门查看  ", "")
    assert (before.id, before.status, before.community) == (item.id, OPEN, "c1")
    assert (after.status, after.note, after.handled_by) == (DONE, "已上门查看", STAFF)
    assert (await world.callbacks.get(item.id, C1)).status == DONE


async def test_a_reply_without_a_note_is_the_note(world):
    item = await world.ask("r1")
    _, after = await world.service.mark_done(item.id, C1, STAFF, " ", " 阿姨，明天上午来看看 ")
    assert after.note == "已回复：阿姨，明天上午来看看"
    other = await world.ask("r2")
    _, after = await world.service.mark_done(other.id, C1, STAFF, "已上门", "明天来")
    assert after.note == "已上门"


@pytest.mark.parametrize(("note", "reply", "message"), [
    ("", "", "请写一下处理情况"),
    ("  ", "\n", "请写一下处理情况"),
    ("好" * (MAX_NOTE + 1), "", f"处理情况和回复各不超过{MAX_NOTE}字"),
    ("已回电", "好" * (MAX_NOTE + 1), f"处理情况和回复各不超过{MAX_NOTE}字"),
])
async def test_a_missing_or_long_note_is_refused_and_the_request_stays_open(world, note, reply, message):
    item = await world.ask("r1")
    with pytest.raises(InvalidError) as refused:
        await world.service.mark_done(item.id, C1, STAFF, note, reply)
    assert (refused.value.status, refused.value.zh) == (400, message)
    assert (await world.callbacks.get(item.id, C1)).status == OPEN
    _, after = await world.service.mark_done(item.id, C1, STAFF, "好" * MAX_NOTE, "好" * MAX_NOTE)
    assert after.status == DONE


async def test_a_request_outside_the_scope_is_not_found_and_a_handled_one_a_conflict(world):
    item = await world.ask("r1", "c1")
    with pytest.raises(NotFoundError):
        await world.service.mark_done(item.id, {"community": "c2"}, STAFF, "已回电")
    assert (await world.callbacks.get(item.id, C1)).status == OPEN
    await world.service.mark_done(item.id, C1, STAFF, "已回电")
    with pytest.raises(ConflictError) as refused:
        await world.service.mark_done(item.id, C1, {"id": "s2", "name": "李网格"}, "again")
    assert (refused.value.status, refused.value.zh) == (409, "这条请求已经处理过了")
    assert (await world.callbacks.get(item.id, C1)).handled_by == STAFF
