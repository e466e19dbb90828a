"""Contract of the points ledger, the earning rules, the 积分超市 and the anti-farming limits:
the real repositories and the fakes agree on what PointsService relies on."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from storage.ledger import (
    ESCROW, ISSUER, IdempotencyConflict, InsufficientPoints, LedgerRepository, RuleRepository, resident_account,
)
from storage.points_limits import APPROVED, PointsLimits
from storage.shop import FAILED, RESERVED, RESERVING, ShopRepository
from tests.contract import repository
from tests.fakes.points import FakeLedgerRepository, FakePointsLimits, FakeRuleRepository, FakeShopRepository

pytestmark = pytest.mark.contract

ALICE, BOB = resident_account("alice"), resident_account("bob")


ledger = repository(LedgerRepository, FakeLedgerRepository)
rules = repository(RuleRepository, FakeRuleRepository, indexes=False)
shop = repository(ShopRepository, FakeShopRepository)
limits = repository(PointsLimits, FakePointsLimits)


def reservation(key: str, item_id: str, state: str = RESERVING, **fields) -> dict:
    now = datetime.now(timezone.utc)
    return {"_id": f"res-{key}", "key": key, "resident_id": "alice", "community": "c1", "item_id": item_id,
            "item_name": "洗衣皂", "points": 20, "state": state, "state_at": now, "created_at": now,
            "expires_at": now + timedelta(days=7), **fields}


# -- ledger ------------------------------------------------------------------------------


async def test_a_key_posts_once_and_a_replay_says_so(ledger):
    first = await ledger.post("report.valid:T-1", ALICE, ISSUER, 5, "earn", earned=5, community="c1")
    again = await ledger.post("report.valid:T-1", ALICE, ISSUER, 5, "earn", earned=5, community="c1")
    assert not first.replayed and again.replayed and again.id == first.id and first.state == "applied"
    assert await ledger.balance(ALICE) == 5 and await ledger.balance(ISSUER) == -5
    with pytest.raises(IdempotencyConflict):
        await ledger.post("report.valid:T-1", ALICE, ISSUER, 6, "earn")
    with pytest.raises(ValueError):
        await ledger.post("zero", ALICE, ISSUER, 0, "earn")
    assert (await ledger.by_key("report.valid:T-1")).id == first.id and await ledger.by_key("nope") is None
    assert (await ledger.get(first.id)).amount == 5 and await ledger.get("no-such-entry") is None


async def test_no_balance_goes_below_zero_but_the_issuers(ledger):
    await ledger.post("seed", ALICE, ISSUER, 10, "earn")
    with pytest.raises(InsufficientPoints) as short:
        await ledger.post("spend-1", ALICE, ESCROW, -11, "redeem")
    assert (short.value.needed, short.value.balance) == (11, 10)
    with pytest.raises(InsufficientPoints):  # a rejected key stays rejected
        await ledger.post("spend-1", ALICE, ESCROW, -11, "redeem")
    assert (await ledger.by_key("spend-1")).state == "rejected"
    await ledger.post("spend-2", ALICE, ESCROW, -10, "redeem")
    assert await ledger.balance(ALICE) == 0 and await ledger.balance(ESCROW) == 10
    assert await ledger.verify(ALICE) == (0, 0) and await ledger.verify(ISSUER) == (-10, -10)


async def test_concurrent_spends_never_overdraw(ledger):
    await ledger.post("seed", ALICE, ISSUER, 5, "earn")
    results = await asyncio.gather(*(ledger.post(f"spend-{i}", ALICE, ESCROW, -2, "redeem") for i in range(5)),
                                   return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 2 and await ledger.balance(ALICE) == 1


async def test_history_and_finding_entries(ledger):
    await ledger.post("a", ALICE, ISSUER, 5, "earn", earned=5)
    await ledger.post("b", BOB, ISSUER, 3, "earn", earned=3)
    await ledger.post("c", ALICE, ESCROW, -2, "redeem")
    with pytest.raises(InsufficientPoints):
        await ledger.post("d", ALICE, ESCROW, -20, "redeem")
    assert [e.idempotency_key for e in await ledger.history(ALICE)] == ["c", "a"]
    assert [e.idempotency_key for e in await ledger.history(ALICE, limit=1, skip=1)] == ["a"]
    assert [e.idempotency_key for e in await ledger.history(ISSUER)] == ["b", "a"]
    assert await ledger.count({"account": ALICE}) == 3 and await ledger.count({"state": "rejected"}) == 1
    assert [e.idempotency_key for e in await ledger.find({"kind": "earn"})] == ["b", "a"]
    assert [e.idempotency_key for e in await ledger.find({"kind": "earn"}, limit=1, skip=1)] == ["a"]
    assert await ledger.reconcile() == {"driven": 0, "rejected": 0, "cleaned": 0, "undone": 0}


async def test_earned_totals_rank_a_communitys_month(ledger):
    start = datetime.now(timezone.utc) - timedelta(hours=1)
    await ledger.post("a1", ALICE, ISSUER, 5, "earn", earned=5, community="c1")
    await ledger.post("b1", BOB, ISSUER, 8, "earn", earned=8, community="c1")
    await ledger.post("a2", ALICE, ISSUER, 3, "award", earned=3, community="c1")
    await ledger.post("x", resident_account("carol"), ISSUER, 50, "earn", earned=50, community="c2")
    await ledger.post("spend", BOB, ESCROW, -8, "redeem", community="c1")  # spending is not earning
    end = datetime.now(timezone.utc) + timedelta(hours=1)
    assert await ledger.earned_totals("c1", start, end) == [(ALICE, 8), (BOB, 8)]  # a tie: who earned first
    assert await ledger.earned_totals("c1", start, end, limit=1) == [(ALICE, 8)]
    assert await ledger.earned_totals("c1", end, end + timedelta(days=1)) == []


# -- rules ---------------------------------------------------------------------------------


async def test_seeded_rules_keep_staff_changes(rules):
    await rules.seed("report.valid", "有效报事", 5)
    await rules.seed("booking.attended", "参加志愿服务", 10, {"service": "volunteer"})
    changed = await rules.update("report.valid", points=8, active=False)
    assert (changed.points, changed.active) == (8, False)
    await rules.seed("report.valid", "有效报事", 5)
    assert [(r.id, r.points, r.active) for r in await rules.all()] == [
        ("booking.attended", 10, True), ("report.valid", 8, False)]
    assert (await rules.get("booking.attended")).match == {"service": "volunteer"}
    assert await rules.get("nope") is None and await rules.update("nope", points=1, active=True) is None


# -- shop ----------------------------------------------------------------------------------


async def test_stock_is_taken_and_given_back_once_per_reservation(shop):
    item = await shop.add_item("c1", "洗衣皂", 20, 1)
    assert await shop.take_stock(item.id, "r1", "c1") is True
    assert await shop.take_stock(item.id, "r1", "c1") is True  # already holds one
    assert await shop.take_stock(item.id, "r2", "c1") is False  # none left
    assert await shop.take_stock(item.id, "r3", "c2") is False
    got = await shop.get_item(item.id)
    assert (got.stock, got.held) == (0, 1) and await shop.holds(item.id, "r1")
    assert await shop.give_back_stock(item.id, "r1") is True and await shop.give_back_stock(item.id, "r1") is False
    assert (await shop.get_item(item.id)).stock == 1
    await shop.take_stock(item.id, "r2", "c1")
    await shop.release_hold(item.id, "r2")  # handed over: the unit left the shop
    got = await shop.get_item(item.id)
    assert (got.stock, got.held) == (0, 0) and not await shop.holds(item.id, "r2")


async def test_items_are_listed_restocked_and_edited(shop):
    rice = await shop.add_item("c1", "大米", 200, 2, item_id="c1-rice")
    soap = await shop.add_item("c1", "洗衣皂", 20, 5)
    await shop.add_item("c2", "花生油", 120, 1)
    await shop.upsert_seed_item({"_id": "c1-rice", "community": "c1", "name": "改过", "points": 1, "stock": 99})
    assert [i.id for i in await shop.list_items({"community": "c1"})] == [soap.id, rice.id]
    assert (await shop.update_item(rice.id, active=False, stock=100)).active is False
    assert (await shop.get_item(rice.id)).stock == 2
    assert [i.id for i in await shop.list_items({"community": "c1"})] == [soap.id]
    assert len(await shop.list_items({"community": "c1"}, active_only=False)) == 2
    assert (await shop.add_stock(soap.id, -5)).stock == 0 and await shop.add_stock(soap.id, -1) is None
    assert (await shop.update_item(soap.id)).name == "洗衣皂" and await shop.get_item("nope") is None


async def test_one_reservation_per_key_moving_between_states(shop):
    first, new = await shop.create_reservation(reservation("alice:k1", "soap"))
    again, new_again = await shop.create_reservation(reservation("alice:k1", "soap", _id="other"))
    assert new and not new_again and again.id == first.id and len(first.code) == 6
    assert (await shop.find_by_code(first.code.lower(), {"community": "c1"})).id == first.id
    assert await shop.find_by_code(first.code, {"community": "c2"}) is None
    assert await shop.transition(first.id, [RESERVED], FAILED) is None
    done = await shop.transition(first.id, [RESERVING], RESERVED, staff_id="s1")
    assert (done.state, done.staff_id, done.closed_at) == (RESERVED, "s1", None)
    failed = await shop.transition(first.id, [RESERVED], FAILED, reason="x")
    assert failed.closed_at is not None and failed.reason == "x"


async def test_reservation_listings(shop):
    old = datetime.now(timezone.utc) - timedelta(hours=1)
    for key, state, at in (("k1", RESERVED, old), ("k2", FAILED, old), ("k3", RESERVING, old)):
        await shop.create_reservation(reservation(key, "soap", state, state_at=at, created_at=at))
    await asyncio.sleep(0)
    await shop.create_reservation(reservation("k4", "soap", RESERVED))
    assert [r.key for r in await shop.for_resident("alice")] in (["k4", "k1", "k3"], ["k4", "k3", "k1"])
    assert sorted(r.key for r in await shop.list_reservations({"community": "c1"}, [RESERVED])) == ["k1", "k4"]
    assert len(await shop.list_reservations({"community": "c1"})) == 4
    assert [r.key for r in await shop.stale([RESERVING], datetime.now(timezone.utc))] == ["k3"]
    later = datetime.now(timezone.utc) + timedelta(days=8)
    assert sorted(r.key for r in await shop.stale([RESERVED], later, field="expires_at")) == ["k1", "k4"]
    assert await shop.get_reservation("nope") is None


# -- limits --------------------------------------------------------------------------------


async def test_one_award_per_pair_and_day_whoever_helped_whom(limits):
    assert await limits.take_pair("help.completed", "2026-11-22", "a", "b") is True
    assert await limits.take_pair("help.completed", "2026-11-22", "b", "a") is False
    assert await limits.take_pair("help.completed", "2026-11-23", "b", "a") is True
    await limits.give_back_pair("help.completed", "2026-11-22", "a", "b")
    assert await limits.take_pair("help.completed", "2026-11-22", "b", "a") is True


async def test_daily_caps_count_points_until_full(limits):
    taken = [await limits.take_daily("a", "report.valid", "2026-11-22", 5, 15) for _ in range(4)]
    assert taken == [True, True, True, False]
    assert await limits.take_daily("a", "report.valid", "2026-11-23", 5, 15) is True
    assert await limits.take_daily("a", "report.valid", "2026-11-22", 20, 15) is False


async def test_a_held_award_is_reviewed_once(limits):
    fields = dict(topic="report.valid", ref="T-1", resident_id="a", community="c1", points=5, title="有效报事",
                  reason="超过每日上限")
    held = await limits.hold(key="report.valid:T-1", **fields)
    assert (await limits.hold(key="report.valid:T-1", **fields)).id == held.id
    await limits.hold(key="report.valid:T-2", **{**fields, "community": "c2"})
    assert [r.id for r in await limits.pending_reviews({"community": "c1"})] == [held.id]
    decided = await limits.decide(held.id, APPROVED, "s1")
    assert (decided.state, decided.decided_by) == (APPROVED, "s1")
    assert await limits.decide(held.id, APPROVED, "s1") is None
    assert (await limits.get_review(held.id)).state == APPROVED and await limits.get_review("nope") is None
    assert await limits.pending_reviews({"community": "c1"}) == []
