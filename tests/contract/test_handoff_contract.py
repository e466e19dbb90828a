"""Contract of CallbackRepository: the real one and the fake agree (what HandoffService uses)."""
from __future__ import annotations

import asyncio

import pytest

from storage.callbacks import DONE, OPEN, CallbackRepository
from tests.contract import repository
from tests.fakes.handoff import FakeCallbackRepository

pytestmark = pytest.mark.contract

TURNS = [{"at": None, "kind": "text", "text": "我家水管漏了", "intent": "nlu_fallback", "replies": ["没听懂"]}]
STAFF = {"id": "s1", "name": "王网格"}
C1 = {"community": "c1"}
STREET = {"community": {"$in": ["c1", "c2"]}}

callbacks = repository(CallbackRepository, FakeCallbackRepository)


async def ask(repo, resident_id: str, community: str = "c1", phone: str | None = "13800138000", **kw):
    fields = {"user_key": f"rest:{resident_id}", "channel": "rest", "community": community, "phone": phone,
              "reason": "asked", "turns": TURNS, "elder": False, **kw}
    return await repo.open_request(resident_id=resident_id, **fields)


async def test_one_open_request_per_resident_refreshed_when_asked_again(callbacks):
    first, created = await ask(callbacks, "r1")
    assert created and first.status == OPEN and first.code == "RG" + first.id[-6:].upper()
    assert first.phone == "13800138000" and first.turns == TURNS and first.created_at is not None
    again, created = await ask(callbacks, "r1", phone=None, reason="misunderstood", elder=True)
    assert not created and again.id == first.id and again.code == first.code
    assert (again.phone, again.reason, again.elder, again.created_at) == (None, "misunderstood", True,
                                                                          first.created_at)


async def test_staff_read_requests_of_their_scope_only(callbacks):
    mine, _ = await ask(callbacks, "r1", "c1")
    theirs, _ = await ask(callbacks, "r2", "c2")
    got = await callbacks.get(mine.id, C1)
    assert got.id == mine.id and got.turns == TURNS and got.contact == {"phone": "13800138000"}
    assert await callbacks.get(theirs.id, C1) is None
    assert (await callbacks.get(theirs.id, STREET)).community == "c2"
    assert await callbacks.get(theirs.id, {}) is not None
    assert await callbacks.get("no-such-request", {}) is None


async def test_the_list_is_newest_first_by_status_without_the_conversation(callbacks):
    first, _ = await ask(callbacks, "r1", "c1")
    await asyncio.sleep(0.01)
    second, _ = await ask(callbacks, "r2", "c1")
    await asyncio.sleep(0.01)
    await ask(callbacks, "r3", "c3")
    listed = await callbacks.list(C1)
    assert [c.id for c in listed] == [second.id, first.id]
    assert all(c.turns == [] and c.phone == "13800138000" for c in listed)
    assert len(await callbacks.list({})) == 3
    await callbacks.close(first.id, C1, STAFF, "已回电")
    assert [c.id for c in await callbacks.list(C1, DONE)] == [first.id]
    assert [c.id for c in await callbacks.list(C1, OPEN)] == [second.id]
    assert [c.id for c in await callbacks.list(C1, None)] == [second.id, first.id]
    assert [c.id for c in await callbacks.list(C1, None, limit=1)] == [second.id]


async def test_only_an_open_request_in_scope_is_closed_once(callbacks):
    item, _ = await ask(callbacks, "r1", "c1")
    assert await callbacks.close(item.id, {"community": "c2"}, STAFF, "不是我的") is None
    assert (await callbacks.get(item.id, {})).status == OPEN
    done = await callbacks.close(item.id, C1, STAFF, "已回电")
    assert (done.id, done.status, done.note, done.handled_by) == (item.id, DONE, "已回电", STAFF)
    assert done.handled_at is not None and done.turns == TURNS
    assert await callbacks.close(item.id, C1, STAFF, "again") is None
    assert (await callbacks.get(item.id, C1)).note == "已回电"
    fresh, created = await ask(callbacks, "r1", "c1")  # handled: asking again opens a new one
    assert created and fresh.id != item.id
