"""Contract of the 共享社区 repositories: the real ones and the fakes agree on the conditional
state changes, queues, search and moderation SharingService relies on."""
from __future__ import annotations

import asyncio

import pytest

from storage.sharing import (
    ACCEPTED, AVAILABLE, COMPLETED, GIVEN, HANDED_OVER, LENT, OPEN, REQUESTED, TAKEN, WAITING, WITHDRAWN,
    SharingRepository, ShareMessageRepository,
)
from tests.contract import repository
from tests.fakes.sharing import FakeShareMessageRepository, FakeSharingRepository

pytestmark = pytest.mark.contract


repo = repository(SharingRepository, FakeSharingRepository)
messages = repository(ShareMessageRepository, FakeShareMessageRepository, indexes=False)


async def post(repo, title, owner="o1", community="c1", **fields):
    made = await repo.add_post(owner_id=owner, community=community, kind=fields.pop("kind", "item"),
                               mode=fields.pop("mode", "lend"), title=title, **fields)
    await asyncio.sleep(0.002)  # distinct creation times: listings are newest first
    return made


async def loan(repo, post_id, borrower, state=REQUESTED, end="2026-11-30"):
    made = await repo.add_loan(post_id=post_id, post_title="梯子", owner_id="o1", borrower_id=borrower,
                               community="c1", start="2026-11-23", end=end, state=state)
    await asyncio.sleep(0.002)
    return made


async def test_posts_change_state_only_from_the_expected_one(repo):
    ladder = await post(repo, "铝合金梯子")
    assert (ladder.state, ladder.hidden, ladder.report_count) == (AVAILABLE, False, 0)
    assert (await repo.set_post_state(ladder.id, [AVAILABLE], LENT)).state == LENT
    assert await repo.set_post_state(ladder.id, [AVAILABLE], WITHDRAWN) is None
    assert (await repo.get_post(ladder.id)).state == LENT and await repo.get_post("nope") is None


async def test_search_ranks_whole_words_first_within_the_community(repo):
    ladder = await post(repo, "铝合金梯子", description="家用")
    folding = await post(repo, "折叠梯", description="可以当梯子用")
    await post(repo, "梯子", community="c2")
    hidden = await post(repo, "木梯子")
    await repo.set_hidden("post", hidden.id, True, "广告", "s1", {})
    gone = await post(repo, "竹梯子")
    await repo.set_post_state(gone.id, [AVAILABLE], GIVEN)
    assert [p.id for p in await repo.search("c1", ["梯子"])] == [ladder.id, folding.id]
    assert [p.id for p in await repo.search("c1", ["梯子"], limit=1)] == [ladder.id]
    assert [p.id for p in await repo.search("c1", ["人字梯"], related=["折叠梯"])] == [folding.id]
    assert await repo.search("c1", []) == []
    assert [p.id for p in await repo.recent_posts("c1")] == [folding.id, ladder.id]
    assert [p.id for p in await repo.recent_posts("c1", kind="skill")] == []


async def test_post_listings_and_moderation(repo):
    ladder = await post(repo, "梯子")
    drill = await post(repo, "电钻")
    old = await post(repo, "旧书")
    await repo.set_post_state(old.id, [AVAILABLE], WITHDRAWN)
    assert [p.id for p in await repo.posts_of("o1")] == [drill.id, ladder.id]
    assert await repo.report("post", ladder.id, "r1", "广告") is True
    assert await repo.report("post", ladder.id, "r1", "again") is False  # once per resident
    assert await repo.report("post", ladder.id, "r2", "") is True
    assert (await repo.get_post(ladder.id)).report_count == 2
    assert [p.id for p in await repo.list_posts({"community": "c1"}, reported_only=True)] == [ladder.id]
    assert [p.id for p in await repo.list_posts({"community": "c1"}, limit=1, skip=1)] == [drill.id]
    assert await repo.set_hidden("post", ladder.id, True, "广告", "s1", {"community": "c2"}) is None
    before = await repo.set_hidden("post", ladder.id, True, "广告", "s1", {"community": "c1"})
    assert before["hidden"] is False and (await repo.get_post(ladder.id)).hidden_reason == "广告"
    assert [p.id for p in await repo.list_posts({"community": "c1"}, hidden=True)] == [ladder.id]


async def test_loans_queue_in_order_and_move_conditionally(repo):
    ladder = await post(repo, "梯子")
    first = await loan(repo, ladder.id, "b1")
    second = await loan(repo, ladder.id, "b2", state=WAITING)
    third = await loan(repo, ladder.id, "b3", state=WAITING)
    assert [x.id for x in await repo.loans_of_post(ladder.id, [WAITING])] == [second.id, third.id]
    assert (await repo.open_loan_of(ladder.id, "b1")).id == first.id
    assert await repo.open_loan_of(ladder.id, "b9") is None
    moved = await repo.move_loan(first.id, [REQUESTED], ACCEPTED)
    assert moved.state == ACCEPTED and await repo.move_loan(first.id, [REQUESTED], ACCEPTED) is None
    handed = await repo.move_loan(first.id, [ACCEPTED], HANDED_OVER, note="x")
    assert handed.handed_over_at is not None and (await repo.get_loan(first.id)).note == "x"
    assert [x.id for x in await repo.loans_for("o1", "owner", [HANDED_OVER])] == [first.id]
    assert [x.id for x in await repo.loans_for("b2", "borrower")] == [second.id]
    assert [x.id for x in await repo.list_loans({"community": "c1"}, limit=2)] == [third.id, second.id]
    assert await repo.get_loan("nope") is None


async def test_due_loans_are_reminded_once(repo):
    ladder = await post(repo, "梯子")
    due = await loan(repo, ladder.id, "b1", state=HANDED_OVER, end="2026-11-24")
    await loan(repo, ladder.id, "b2", state=HANDED_OVER, end="2026-11-30")
    await loan(repo, ladder.id, "b3", state=ACCEPTED, end="2026-11-20")
    assert [x.id for x in await repo.due_loans("2026-11-24")] == [due.id]
    assert await repo.mark_reminded(due.id) is True and await repo.mark_reminded(due.id) is False
    assert await repo.due_loans("2026-11-24") == []


async def test_help_requests_are_taken_once_and_listed(repo):
    def ask(requester, community="c1"):
        return repo.add_help(requester_id=requester, community=community, kind="groceries", kind_title="买菜",
                             details="帮忙买菜", when="明天上午", place="")
    mine = await ask("r1")
    await asyncio.sleep(0.002)
    other = await ask("r2")
    await ask("r3", community="c2")
    assert mine.state == OPEN and [h.id for h in await repo.open_helps("c1")] == [other.id, mine.id]
    assert [h.id for h in await repo.open_helps("c1", exclude_requester="r2")] == [mine.id]
    taken = await repo.move_help(mine.id, {"state": OPEN, "hidden": False}, TAKEN, volunteer_id="v1")
    assert taken.volunteer_id == "v1" and await repo.move_help(mine.id, {"state": OPEN}, TAKEN) is None
    assert await repo.move_help(mine.id, {"state": TAKEN, "requester_id": "r2"}, COMPLETED) is None
    done = await repo.move_help(mine.id, {"state": TAKEN, "requester_id": "r1"}, COMPLETED)
    assert done.state == COMPLETED and done.completed_at is not None
    assert [h.id for h in await repo.helps_of("v1", "volunteer")] == [mine.id]
    assert await repo.helps_of("r1", "requester", [OPEN, TAKEN]) == []
    assert await repo.report("help", other.id, "r1", "不实") is True
    assert [h.id for h in await repo.list_helps({"community": "c1"}, reported_only=True)] == [other.id]
    assert len(await repo.list_helps({"community": "c1"})) == 2 and await repo.get_help("nope") is None


async def test_a_relayed_message_is_recorded(messages):
    doc = {"_id": "m1", "ref_kind": "loan", "ref_id": "l1", "from_id": "a", "to_id": "b", "kind": "message",
           "text": "周六上午方便吗"}
    assert await messages.add(doc) == doc
