"""PointsService rules on in-memory repositories (tests/fakes): earning by rules once per
record, anti-farming limits and staff review, staff awards and reversals, the 积分超市's
redemptions (stock, insufficient points, idempotent keys), hand-over, void and expiry.
tests/test_points_ledger.py covers what only the real ledger shows (crashed postings,
concurrency)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from services.events import CourierReport
from services.points import DEFAULT_RULES, EARNING_EVENTS, EARNING_TOPICS, PointsService, display_name
from services.points_errors import NotEnoughPoints, NotFound, PointsError
from storage.ledger import ESCROW, ISSUER, SHOP, resident_account
from storage.shop import FAILED, FULFILLED, RESERVED, VOIDED
from tests.fakes.people import FakeResidentRepository
from tests.fakes.points import FakeLedgerRepository, FakePointsLimits, FakeRuleRepository, FakeShopRepository
from tests.fakes.services import RecordingNotifier

pytestmark = pytest.mark.unit

COMMUNITY = "c1"


class World:
    def __init__(self) -> None:
        self.ledger, self.rules, self.shop = FakeLedgerRepository(), FakeRuleRepository(), FakeShopRepository()
        self.limits, self.residents, self.notifier = FakePointsLimits(), FakeResidentRepository(), RecordingNotifier()
        self.service = PointsService(self.ledger, self.rules, self.shop, self.limits, self.residents, self.notifier)

    async def person(self, name: str, community: str = COMMUNITY):
        made = await self.residents.for_user_key(f"rest:{name}", community)
        return await self.residents.update_profile(made.id, name=name)

    async def give(self, resident, points: int) -> None:
        await self.ledger.post(f"seed:{resident.id}:{points}", resident_account(resident.id), ISSUER, points, "earn")

    async def balances_sum(self) -> int:
        return sum(self.ledger.accounts.values())


@pytest.fixture
async def world() -> World:
    made = World()
    for rule_id, title, points, match in DEFAULT_RULES:
        await made.rules.seed(rule_id, title, points, match)
    return made


# -- earning ------------------------------------------------------------------------------------


async def test_an_event_earns_its_rules_points_once_per_record(world):
    ann = await world.person("王阿姨")
    payload = {"ticket": "R1", "resident_id": ann.id, "community": COMMUNITY}
    first = await world.service.award_event("report.valid", payload)
    again = await world.service.award_event("report.valid", payload)
    assert (first.amount, first.kind, first.ref) == (5, "earn", {"type": "report.valid", "id": "R1"})
    assert again.replayed and again.id == first.id
    assert await world.service.balance(ann.id) == 5 and len(world.notifier.to(ann.id)) == 1
    assert [e.id for e in await world.service.passbook(ann.id)] == [first.id]


async def test_only_matching_active_rules_for_known_residents_earn(world):
    ann = await world.person("ann")
    assert await world.service.award_event("booking.attended", {"booking_id": "b1", "resident_id": ann.id,
                                                                "service": "elderly_meal"}) is None
    assert (await world.service.award_event("booking.attended", {"booking_id": "b2", "resident_id": ann.id,
                                                                 "service": "volunteer"})).amount == 10
    assert await world.service.award_event("report.valid", {"ticket": "R1", "resident_id": "stranger"}) is None
    assert await world.service.award_event("report.valid", {"resident_id": ann.id}) is None  # no record
    assert await world.service.award_event("unknown.topic", {"ref": "x", "resident_id": ann.id}) is None
    await world.service.update_earning_rule("report.valid", points=5, active=False)
    assert await world.service.award_event("report.valid", {"ticket": "R2", "resident_id": ann.id}) is None
    assert await world.service.balance(ann.id) == 10


async def test_an_earning_event_credits_its_topic(world):
    ann = await world.person("ann")
    assert [event_type.topic for event_type in EARNING_EVENTS] == EARNING_TOPICS  # one event per rule
    await world.service.on_event(CourierReport(ref="R9", ticket="R9", resident_id=ann.id, user_key=None,
                                               community=COMMUNITY, category="streetlight"))
    assert await world.service.balance(ann.id) == 5


async def test_a_pair_earns_once_a_day_whoever_helped_whom(world):
    ann, bob = await world.person("ann"), await world.person("bob")
    help_1 = {"ref": "h1", "resident_id": ann.id, "requester_id": bob.id}
    help_2 = {"ref": "h2", "resident_id": bob.id, "requester_id": ann.id}
    assert (await world.service.award_event("help.completed", help_1)).amount == 10
    assert await world.service.award_event("help.completed", help_2) is None
    assert await world.service.balance(bob.id) == 0


async def test_above_the_daily_cap_an_award_waits_for_staff(world):
    ann = await world.person("ann")
    earned = [await world.service.award_event("report.valid", {"ticket": f"R{i}", "resident_id": ann.id,
                                                               "community": COMMUNITY}) for i in range(4)]
    assert [e is not None for e in earned] == [True, True, True, False]  # the cap is 15 a day
    assert await world.service.balance(ann.id) == 15
    [held] = await world.service.pending_reviews({"community": COMMUNITY})
    assert (held.ref, held.points, held.resident_id) == ("R3", 5, ann.id)
    approved = await world.service.decide_review(held.id, approve=True, staff_id="s1")
    assert approved.state == "approved" and await world.service.balance(ann.id) == 20
    with pytest.raises(PointsError) as twice:
        await world.service.decide_review(held.id, approve=False, staff_id="s1")
    assert twice.value.code == "review_done"
    assert await world.service.award_event("report.valid", {"ticket": "R3", "resident_id": ann.id}) is not None
    assert await world.service.balance(ann.id) == 20  # the approved award is the record's one credit


# -- staff awards and reversals -------------------------------------------------------------------


async def test_staff_awards_and_deductions_with_a_reason(world):
    ann = await world.person("ann")
    award = await world.service.award(staff_id="s1", resident_id=ann.id, points=30, reason="义务劳动", key="k1")
    again = await world.service.award(staff_id="s1", resident_id=ann.id, points=30, reason="义务劳动", key="k1")
    assert award.kind == "award" and again.replayed and await world.service.balance(ann.id) == 30
    deduct = await world.service.award(staff_id="s1", resident_id=ann.id, points=-10, reason="多发了", key="k2")
    assert deduct.kind == "deduct" and await world.service.balance(ann.id) == 20
    with pytest.raises(NotEnoughPoints) as short:
        await world.service.award(staff_id="s1", resident_id=ann.id, points=-50, reason="扣分", key="k3")
    assert (short.value.needed, short.value.balance) == (50, 20)
    for points, reason, resident_id, code in ((5, " ", ann.id, "reason_required"), (0, "x", ann.id, "invalid_points"),
                                              (20000, "x", ann.id, "invalid_points"),
                                              (5, "x", "nobody", "resident_not_found")):
        with pytest.raises(PointsError) as bad:
            await world.service.award(staff_id="s1", resident_id=resident_id, points=points, reason=reason, key="k")
        assert bad.value.code == code
    assert len(world.notifier.to(ann.id)) == 2  # the award and the deduction, each once


async def test_an_earning_is_reversed_once_and_not_once_spent(world):
    ann = await world.person("ann")
    earned = await world.service.award_event("report.valid", {"ticket": "R1", "resident_id": ann.id})
    reversal = await world.service.reverse(staff_id="s1", entry_id=earned.id, reason="重复报事")
    again = await world.service.reverse(staff_id="s1", entry_id=earned.id, reason="重复报事")
    assert reversal.reverses == earned.id and again.replayed and again.id == reversal.id
    assert await world.service.balance(ann.id) == 0
    with pytest.raises(PointsError) as not_earning:
        await world.service.reverse(staff_id="s1", entry_id=reversal.id, reason="x")
    assert not_earning.value.code == "not_reversible"
    spent = await world.service.award_event("report.valid", {"ticket": "R2", "resident_id": ann.id})
    await world.ledger.post("spend", resident_account(ann.id), SHOP, -5, "redeem")
    with pytest.raises(PointsError) as gone:
        await world.service.reverse(staff_id="s1", entry_id=spent.id, reason="x")
    assert gone.value.code == "already_spent"
    await world.give(ann, 5)  # points again: a later attempt may reverse it
    assert (await world.service.reverse(staff_id="s1", entry_id=spent.id, reason="x")).amount == -5
    with pytest.raises(NotFound):
        await world.service.reverse(staff_id="s1", entry_id="nope", reason="x")


async def test_the_leaderboard_counts_earnings_and_hides_full_names(world):
    ann, bob = await world.person("王秀英"), await world.person("李明")
    await world.service.award_event("report.valid", {"ticket": "R1", "resident_id": ann.id, "community": COMMUNITY})
    await world.service.award_event("booking.attended", {"booking_id": "b1", "resident_id": bob.id,
                                                         "service": "volunteer", "community": COMMUNITY})
    _, board = await world.service.leaderboard(COMMUNITY)
    assert [(r.rank, r.resident_id, r.display_name, r.points) for r in board] == [
        (1, bob.id, "李*", 10), (2, ann.id, "王**", 5)]
    assert display_name(None, "abcdef1234") == "邻居1234"


# -- the 积分超市 ---------------------------------------------------------------------------------


async def test_a_redemption_holds_stock_and_points_until_handed_over(world):
    ann = await world.person("ann")
    await world.give(ann, 50)
    soap = await world.service.add_shop_item(COMMUNITY, "洗衣皂", 20, 2, "日用品")
    reserved = await world.service.redeem(ann, soap.id, key="k1")
    assert reserved.state == RESERVED and reserved.points == 20
    assert await world.service.balance(ann.id) == 30 and await world.ledger.balance(ESCROW) == 20
    assert (await world.service.shop_item(soap.id)).stock == 1
    done = await world.service.confirm(reserved.id, staff_id="s1")
    assert done.state == FULFILLED and await world.ledger.balance(SHOP) == 20 and await world.ledger.balance(ESCROW) == 0
    with pytest.raises(PointsError) as twice:
        await world.service.confirm(reserved.id, staff_id="s1")
    assert twice.value.code == "bad_state"
    assert await world.balances_sum() == 0


async def test_the_same_key_replays_and_another_item_with_it_is_refused(world):
    ann = await world.person("ann")
    await world.give(ann, 100)
    soap = await world.service.add_shop_item(COMMUNITY, "洗衣皂", 20, 5, "")
    oil = await world.service.add_shop_item(COMMUNITY, "花生油", 30, 5, "")
    first = await world.service.redeem(ann, soap.id, key="k1")
    again = await world.service.redeem(ann, soap.id, key="k1")
    assert again.id == first.id and await world.service.balance(ann.id) == 80
    assert (await world.service.shop_item(soap.id)).stock == 4
    with pytest.raises(PointsError) as reused:
        await world.service.redeem(ann, oil.id, key="k1")
    assert reused.value.code == "key_reused"


async def test_too_few_points_or_no_stock_change_nothing(world):
    ann, bob = await world.person("ann"), await world.person("bob")
    await world.give(ann, 10)
    rice = await world.service.add_shop_item(COMMUNITY, "大米", 200, 1, "")
    with pytest.raises(NotEnoughPoints) as short:
        await world.service.redeem(ann, rice.id, key="k1")
    assert (short.value.needed, short.value.balance) == (200, 10)
    with pytest.raises(NotEnoughPoints):  # the same attempt again answers the same
        await world.service.redeem(ann, rice.id, key="k1")
    assert (await world.service.shop_item(rice.id)).stock == 1 and await world.service.balance(ann.id) == 10
    assert await world.service.reservations(ann.id) == []  # failed attempts are not listed
    await world.give(bob, 500)
    await world.service.redeem(bob, rice.id, key="k1")
    with pytest.raises(PointsError) as sold_out:
        await world.service.redeem(bob, rice.id, key="k2")
    assert sold_out.value.code == "out_of_stock" and await world.service.balance(bob.id) == 300
    far = await world.person("far", community="c2")
    with pytest.raises(NotFound):
        await world.service.redeem(far, rice.id, key="k1")


async def test_a_void_gives_points_and_stock_back_once(world):
    ann, bob = await world.person("ann"), await world.person("bob")
    await world.give(ann, 40)
    soap = await world.service.add_shop_item(COMMUNITY, "洗衣皂", 20, 1, "")
    reserved = await world.service.redeem(ann, soap.id, key="k1")
    with pytest.raises(NotFound):
        await world.service.void(reserved.id, staff_id=None, reason="不要了", resident_id=bob.id)
    voided = await world.service.void(reserved.id, staff_id=None, reason="不要了", resident_id=ann.id)
    assert voided.state == VOIDED and await world.service.balance(ann.id) == 40
    assert (await world.service.shop_item(soap.id)).stock == 1 and world.notifier.to(ann.id) == []
    with pytest.raises(PointsError) as twice:
        await world.service.void(reserved.id, staff_id="s1", reason="x")
    assert twice.value.code == "bad_state"
    staff_voided = await world.service.redeem(ann, soap.id, key="k2")
    await world.service.void(staff_voided.id, staff_id="s1", reason="缺货")
    assert [n["ref"] for n in world.notifier.to(ann.id)] == [f"reservation:{staff_voided.id}"]


async def test_uncollected_reservations_expire_back_to_the_resident(world):
    ann = await world.person("ann")
    await world.give(ann, 20)
    soap = await world.service.add_shop_item(COMMUNITY, "洗衣皂", 20, 1, "")
    reserved = await world.service.redeem(ann, soap.id, key="k1")
    assert (await world.service.run_periodic()).get("expired", 0) == 0
    counts = await world.service.run_periodic(datetime.now(timezone.utc) + timedelta(days=8))
    assert counts["expired"] == 1 and (await world.service.reservation(reserved.id)).state == VOIDED
    assert await world.service.balance(ann.id) == 20 and (await world.service.shop_item(soap.id)).stock == 1
    assert [n["ref"] for n in world.notifier.to(ann.id)] == [f"reservation:{reserved.id}"]


async def test_a_redemption_left_half_done_is_settled_by_the_periodic_job(world):
    ann = await world.person("ann")
    await world.give(ann, 20)
    soap = await world.service.add_shop_item(COMMUNITY, "洗衣皂", 20, 1, "")
    stuck, _ = await world.shop.create_reservation({
        "_id": "res-1", "key": f"{ann.id}:k1", "resident_id": ann.id, "community": COMMUNITY, "item_id": soap.id,
        "item_name": soap.name, "points": 20, "state": "reserving",
        "state_at": datetime.now(timezone.utc) - timedelta(minutes=10),
        "created_at": datetime.now(timezone.utc), "expires_at": datetime.now(timezone.utc) + timedelta(days=7)})
    assert (await world.service.run_periodic())["settled"] == 1
    assert (await world.service.reservation(stuck.id)).state == RESERVED and await world.service.balance(ann.id) == 0
    replay = await world.service.redeem(ann, soap.id, key="k1")
    assert replay.id == stuck.id and replay.state == RESERVED
    assert FAILED not in [r.state for r in await world.service.reservations(ann.id)]
