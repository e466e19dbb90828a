"""SharingService rules on in-memory repositories (tests/fakes): publishing after the content
check, the loan lifecycle with its waiting list, gifts, reminders, help requests earning the
volunteer's event, reports and the neighbours' relay. tests/test_sharing_service.py runs the
workflow on the real server with the real word list and points."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.events import HelpCompleted, EventBus
from services.sharing import MAX_LOAN_DAYS, ContentRejected, SharingError, SharingService, today
from services.sharing_contact import ContactError
from storage.sharing import (
    ACCEPTED, AVAILABLE, CANCELLED, COMPLETED, DECLINED, GIVEN, HANDED_OVER, LENT, REQUESTED, RETURNED, TAKEN,
    WAITING, WITHDRAWN,
)
from tests.fakes.people import FakeResidentRepository
from tests.fakes.services import RecordingNotifier
from tests.fakes.sharing import FakeShareMessageRepository, FakeSharingRepository, WordChecker

pytestmark = pytest.mark.unit

COMMUNITY = "c1"


class World:
    def __init__(self) -> None:
        self.repo, self.messages = FakeSharingRepository(), FakeShareMessageRepository()
        self.residents, self.notifier, self.bus = FakeResidentRepository(), RecordingNotifier(), EventBus()
        self.completed: list[HelpCompleted] = []
        self.bus.subscribe(HelpCompleted, self._completed)
        self.service = SharingService(self.repo, self.messages, self.residents, WordChecker(), self.notifier,
                                      bus=self.bus)

    async def _completed(self, event: HelpCompleted) -> None:
        self.completed.append(event)

    async def person(self, name: str, community: str = COMMUNITY):
        made = await self.residents.for_user_key(f"rest:{name}", community)
        return await self.residents.update_profile(made.id, name=name, building="3栋")

    async def offer(self, owner, title: str, mode: str = "lend", kind: str = "item"):
        return await self.service.share(owner, kind=kind, mode=mode, title=title)

    async def borrow(self, borrower, post, start: int = 1, end: int = 2):
        """`borrower` asks for `post` from `start` to `end` days from today: the loan."""
        return (await self.service.request_borrow(borrower, post.id, days(start), days(end))).loan

    def refs(self, resident) -> list[str]:
        return [n["ref"] for n in self.notifier.to(resident.id)]


@pytest.fixture
async def world() -> World:
    return World()


@pytest.fixture
async def people(world):
    return {name: await world.person(name) for name in ("owner", "ann", "bob", "cat")}


def days(n: int):
    return today() + timedelta(days=n)


async def error(call, kind=SharingError):
    with pytest.raises(kind) as caught:
        await call
    return caught.value


async def test_sharing_checks_the_content_and_the_fields(world, people):
    owner = people["owner"]
    ladder = await world.service.share(owner, kind="item", mode="lend", title=" 铝合金梯子 ", condition="九成新")
    assert (ladder.title, ladder.state, ladder.community) == ("铝合金梯子", AVAILABLE, COMMUNITY)
    skill = await world.service.share(owner, kind="skill", mode="give", title="通下水道", condition="全新")
    assert (skill.mode, skill.condition) == ("lend", "")  # a skill is lent, never given, has no condition
    rejected = await error(world.service.share(owner, kind="item", mode="give", title="代开发票"), ContentRejected)
    assert rejected.code == "content_blocked_word" and rejected.status == 422
    assert (await error(world.service.share(owner, kind="car", mode="lend", title="x"))).code == "invalid_kind"
    assert (await error(world.service.share(owner, kind="item", mode="lend", title=""))).code == "invalid_title"
    assert sorted(p.id for p in await world.service.posts_of(owner.id)) == sorted([skill.id, ladder.id])


async def test_search_finds_posts_of_the_community_only(world, people):
    ladder = await world.offer(people["owner"], "铝合金梯子")
    far = await world.person("far", community="c2")
    assert [p.id for p in await world.service.search(people["ann"], "谁家有梯子借我用一下")] == [ladder.id]
    assert await world.service.search(far, "谁家有梯子") == []
    assert [p.id for p in await world.service.search(people["ann"], "谁家有？")] == [ladder.id]  # nothing named: recent


async def test_a_loan_from_request_to_return_with_a_waiting_list(world, people):
    owner, ann, bob, cat = people["owner"], people["ann"], people["bob"], people["cat"]
    ladder = await world.offer(owner, "梯子")
    first = await world.borrow(ann, ladder, 1, 3)
    second = await world.borrow(bob, ladder, 2, 4)
    assert first.state == REQUESTED and second.state == REQUESTED
    assert world.refs(owner) == [f"loan:{first.id}", f"loan:{second.id}"]
    accepted = await world.service.accept(owner, first.id)
    assert accepted.state == ACCEPTED and (await world.repo.get_post(ladder.id)).state == LENT
    assert (await world.repo.get_loan(second.id)).state == WAITING  # the others queue
    late = await world.service.request_borrow(cat, ladder.id, days(5), days(6))
    assert (late.loan.state, late.waiting_position) == (WAITING, 2)
    assert (await error(world.service.accept(owner, second.id))).code == "bad_state"
    assert (await world.service.hand_over(owner, first.id)).state == HANDED_OVER
    returned, promoted = await world.service.mark_returned(owner, first.id)
    assert returned.state == RETURNED and promoted.id == second.id and promoted.state == REQUESTED
    assert (await world.repo.get_post(ladder.id)).state == AVAILABLE
    assert f"loan:{second.id}" in world.refs(bob)
    assert (await world.service.queue_position(late.loan)) == 1
    assert (await error(world.service.mark_returned(owner, first.id))).code == "bad_state"


async def test_borrowing_rules(world, people):
    owner, ann = people["owner"], people["ann"]
    ladder = await world.offer(owner, "梯子")
    assert (await error(world.service.request_borrow(owner, ladder.id, days(1), days(2)))).code == "own_post"
    assert (await error(world.service.request_borrow(ann, ladder.id, days(-1), days(2)))).code == "invalid_start"
    assert (await error(world.service.request_borrow(ann, ladder.id, days(3), days(2)))).code == "invalid_end"
    assert (await error(world.service.request_borrow(ann, ladder.id, days(1), days(2 + MAX_LOAN_DAYS)))
            ).code == "invalid_end"
    await world.service.request_borrow(ann, ladder.id, days(1), days(2))
    assert (await error(world.service.request_borrow(ann, ladder.id, days(1), days(2)))).code == "already_requested"
    far = await world.person("far", community="c2")
    assert (await error(world.service.request_borrow(far, ladder.id, days(1), days(2)))).code == "post_not_found"
    assert (await error(world.service.accept(ann, "no-such-loan"))).code == "loan_not_found"


async def test_cancelling_an_accepted_loan_frees_the_item_for_the_queue(world, people):
    owner, ann, bob = people["owner"], people["ann"], people["bob"]
    ladder = await world.offer(owner, "梯子")
    first = await world.borrow(ann, ladder, 1, 2)
    second = await world.borrow(bob, ladder, 1, 2)
    await world.service.accept(owner, first.id)
    assert (await error(world.service.cancel(bob, first.id))).code == "loan_not_found"
    assert (await world.service.cancel(ann, first.id)).state == CANCELLED
    assert (await world.repo.get_loan(second.id)).state == REQUESTED
    declined = await world.service.decline(owner, second.id, "这周不在家")
    assert declined.state == DECLINED and f"loan:{second.id}" in world.refs(bob)
    assert (await world.repo.get_post(ladder.id)).state == AVAILABLE


async def test_a_gift_goes_to_one_neighbour_and_closes_the_other_requests(world, people):
    owner, ann, bob = people["owner"], people["ann"], people["bob"]
    pram = await world.offer(owner, "婴儿车", mode="give")
    chosen = await world.borrow(ann, pram, 0, 0)
    other = await world.borrow(bob, pram, 0, 0)
    await world.service.accept(owner, chosen.id)
    await world.service.hand_over(owner, chosen.id)
    assert (await world.repo.get_post(pram.id)).state == GIVEN
    assert (await world.repo.get_loan(other.id)).state == DECLINED
    assert (await error(world.service.visible_post(ann, pram.id))).code == "post_not_found"


async def test_withdrawing_a_post_closes_its_requests_but_not_while_lent(world, people):
    owner, ann, bob = people["owner"], people["ann"], people["bob"]
    drill = await world.offer(owner, "电钻")
    waiting = await world.borrow(ann, drill, 1, 2)
    assert (await error(world.service.withdraw(ann, drill.id))).code == "post_not_found"
    assert (await world.service.withdraw(owner, drill.id)).state == WITHDRAWN
    assert (await world.repo.get_loan(waiting.id)).state == DECLINED
    ladder = await world.offer(owner, "梯子")
    lent = await world.borrow(bob, ladder, 1, 2)
    await world.service.accept(owner, lent.id)
    assert (await error(world.service.withdraw(owner, ladder.id))).code == "post_busy"


async def test_a_skill_is_accepted_for_several_neighbours(world, people):
    owner, ann, bob = people["owner"], people["ann"], people["bob"]
    plumbing = await world.service.share(owner, kind="skill", mode="lend", title="通下水道")
    loans = [await world.borrow(p, plumbing, 1, 1) for p in (ann, bob)]
    assert [(await world.service.accept(owner, loan.id)).state for loan in loans] == [ACCEPTED, ACCEPTED]
    assert (await world.repo.get_post(plumbing.id)).state == AVAILABLE


async def test_borrowers_are_reminded_of_the_return_date_once(world, people):
    owner, ann = people["owner"], people["ann"]
    ladder = await world.offer(owner, "梯子")
    loan = await world.borrow(ann, ladder, 0, 1)
    await world.service.accept(owner, loan.id)
    await world.service.hand_over(owner, loan.id)
    before = len(world.refs(ann))
    assert await world.service.remind_due() == 1 and await world.service.remind_due() == 0
    assert world.refs(ann)[before:] == [f"loan:{loan.id}"]
    assert [x.id for x in await world.service.my_borrowing(ann)] == [loan.id]
    assert [x.id for x in await world.service.loans_to_handle(owner)] == [loan.id]


async def test_a_help_request_is_taken_once_and_completed_by_the_requester(world, people):
    ann, bob, cat = people["ann"], people["bob"], people["cat"]
    asked = await world.service.ask_help(ann, kind="groceries", details="帮忙买点菜", when="明天上午")
    assert [h.id for h in await world.service.open_helps(bob)] == [asked.id]
    assert await world.service.open_helps(ann) == []  # not one's own
    assert (await error(world.service.take_help(ann, asked.id))).code == "own_help"
    taken = await world.service.take_help(bob, asked.id, phone="13800138000")
    assert taken.state == TAKEN and taken.volunteer_id == bob.id
    assert (await error(world.service.take_help(cat, asked.id))).code == "help_taken"
    assert (await error(world.service.complete_help(bob, asked.id))).code == "help_not_found"
    done = await world.service.complete_help(ann, asked.id)
    assert done.state == COMPLETED
    assert [(e.resident_id, e.requester_id, e.ref, e.kind) for e in world.completed] == [
        (bob.id, ann.id, asked.id, "groceries")]
    assert (await error(world.service.complete_help(ann, asked.id))).code == "bad_state"
    assert len(world.completed) == 1


async def test_help_requests_are_checked_and_cancelled_by_the_requester(world, people):
    ann, bob = people["ann"], people["bob"]
    assert (await error(world.service.ask_help(ann, kind="party", details="x", when="x"))).code == "invalid_kind"
    assert (await error(world.service.ask_help(ann, kind="other", details="", when="明天"))).code == "invalid_help"
    assert (await error(world.service.ask_help(ann, kind="other", details="代开发票", when="明天"), ContentRejected)
            ).code == "content_blocked_word"
    asked = await world.service.ask_help(ann, kind="accompany_elder", details="陪老人散步", when="周六")
    await world.service.take_help(bob, asked.id)
    assert (await error(world.service.cancel_help(bob, asked.id))).code == "help_not_found"
    assert (await world.service.cancel_help(ann, asked.id)).state == CANCELLED
    assert f"help:{asked.id}" in world.refs(bob)  # the volunteer need not come
    assert (await error(world.service.cancel_help(ann, asked.id))).code == "bad_state"


async def test_reports_are_counted_once_per_resident_within_the_community(world, people):
    ladder = await world.offer(people["owner"], "梯子")
    assert await world.service.report(people["ann"], "post", ladder.id, "广告") is True
    assert await world.service.report(people["ann"], "post", ladder.id, "广告") is False
    far = await world.person("far", community="c2")
    assert (await error(world.service.report(far, "post", ladder.id, "x"))).code == "post_not_found"
    assert [p.id for p in await world.service.posts_in_scope({"community": COMMUNITY}, reported_only=True)] == [
        ladder.id]


async def test_the_two_sides_of_an_accepted_loan_reach_each_other_through_linli(world, people):
    owner, ann, bob = people["owner"], people["ann"], people["bob"]
    ladder = await world.offer(owner, "梯子")
    loan = await world.borrow(ann, ladder, 1, 2)
    with pytest.raises(ContactError):  # not before the owner said yes
        await world.service.contact.relay(ann, "loan", loan.id, "周六方便吗")
    await world.service.accept(owner, loan.id)
    parties = await world.service.contact.relay(ann, "loan", loan.id, "周六方便吗")
    assert parties.other_id == owner.id
    with pytest.raises(ContactError):
        await world.service.contact.relay(bob, "loan", loan.id, "我也想借")
    with pytest.raises(ContactError):
        await world.service.contact.share_phone(ann, "loan", loan.id, "12345")
    await world.service.contact.share_phone(ann, "loan", loan.id, "13800138000")
    assert [(m["kind"], m["from_id"], m["to_id"]) for m in world.messages.docs] == [
        ("message", ann.id, owner.id), ("phone", ann.id, owner.id)]
    assert world.messages.docs[1]["text"] == ""  # the record keeps the consent, not the number
