"""The points ledger and the 积分超市 against the real MongoDB-compatible server:
idempotent awards, no negative balance under concurrency, atomic redemptions, recovery."""
from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone

import pytest

from bot.bootstrap import points_service
from services import events
from services.points import month_bounds, seed_points
from services.points_errors import NotEnoughPoints, PointsError
from storage.ledger import (
    ESCROW, ISSUER, SHOP, LEASE, IdempotencyConflict, InsufficientPoints, LedgerRepository, resident_account,
)
from storage.notices import NoticeRepository
from services.notify import Notifier
from storage.residents import ResidentRepository
from storage.shop import FAILED, FULFILLED, RESERVED, VOIDED

COMMUNITY = "huafu-tianmian"


@pytest.fixture
async def ledger(db):
    repo = LedgerRepository(db)
    await repo.ensure_indexes()
    return repo


@pytest.fixture
async def points(db):
    service = points_service(db, ResidentRepository(db), Notifier(NoticeRepository(db), ResidentRepository(db)))
    await service.ensure_indexes()
    await seed_points(db, [COMMUNITY])
    return service


async def resident(db, name="u1", community=COMMUNITY):
    return await ResidentRepository(db).for_user_key(f"rest:{name}", community)


async def all_balances_sum(db) -> int:
    return sum([doc["balance"] async for doc in db["point_accounts"].find({})])


async def test_replaying_the_same_award_key_credits_once(ledger):
    account = resident_account("r1")
    first = await ledger.post("report.valid:T-1", account, ISSUER, 5, "earn", earned=5)
    again = await ledger.post("report.valid:T-1", account, ISSUER, 5, "earn", earned=5)
    assert not first.replayed and again.replayed and again.id == first.id
    replays = await asyncio.gather(*(ledger.post("report.valid:T-2", account, ISSUER, 7, "earn") for _ in range(20)))
    assert len({entry.id for entry in replays}) == 1
    assert sum(not entry.replayed for entry in replays) == 1
    assert await ledger.balance(account) == 12
    assert await ledger.verify(account) == (12, 12)
    assert await ledger.balance(ISSUER) == -12
    assert await ledger.count({"idempotency_key": "report.valid:T-2"}) == 1


async def test_the_same_key_for_another_movement_is_refused(ledger):
    await ledger.post("k-1", resident_account("r1"), ISSUER, 5, "earn")
    with pytest.raises(IdempotencyConflict):
        await ledger.post("k-1", resident_account("r1"), ISSUER, 50, "earn")
    assert await ledger.balance(resident_account("r1")) == 5


async def test_no_negative_balance_under_concurrent_spends(db, ledger):
    account = resident_account("r1")
    await ledger.post("seed", account, ISSUER, 100, "earn")

    async def spend(i: int) -> bool:
        try:
            await ledger.post(f"spend-{i}", account, SHOP, -7, "spend")
            return True
        except InsufficientPoints:
            return False

    results = await asyncio.gather(*(spend(i) for i in range(40)))
    assert sum(results) == 14  # 14 * 7 = 98 <= 100 < 15 * 7
    assert await ledger.balance(account) == 2
    assert await ledger.verify(account) == (2, 2)
    assert await all_balances_sum(db) == 0  # double entry: nothing created or lost
    rejected = await ledger.count({"state": "rejected"})
    assert rejected == 26
    # A refused key stays refused on replay, even after a top-up.
    await ledger.post("top-up", account, ISSUER, 100, "earn")
    failed_key = next(f"spend-{i}" for i, ok in enumerate(results) if not ok)
    with pytest.raises(InsufficientPoints):
        await ledger.post(failed_key, account, SHOP, -7, "spend")


async def test_a_crashed_posting_is_finished_once_by_replay_and_reconcile(db, ledger):
    account = resident_account("r9")
    # Simulate a worker that died after inserting the entry and applying the debit leg only.
    past = datetime.now(timezone.utc) - LEASE * 2
    await db["ledger_entries"].insert_one({
        "_id": "e-crash", "idempotency_key": "crash-1", "account": account, "counter_account": ISSUER,
        "amount": 9, "kind": "earn", "earned": 9, "community": COMMUNITY, "state": "pending",
        "created_at": past, "lease": "dead", "lease_until": past,
    })
    await db["point_accounts"].insert_one({"_id": ISSUER, "balance": -9, "pending": ["e-crash"]})
    replay = await ledger.post("crash-1", account, ISSUER, 9, "earn")
    assert replay.state == "applied" and replay.id == "e-crash"
    assert await ledger.balance(account) == 9 and await ledger.balance(ISSUER) == -9
    assert await ledger.verify(account) == (9, 9)
    # Another crash before the credit leg; the periodic reconcile finishes it.
    await db["ledger_entries"].insert_one({
        "_id": "e-crash-2", "idempotency_key": "crash-2", "account": account, "counter_account": ISSUER,
        "amount": 4, "kind": "earn", "earned": 4, "state": "pending", "created_at": past,
        "lease": "dead", "lease_until": past,
    })
    counts = await ledger.reconcile()
    assert counts["driven"] == 1
    assert await ledger.reconcile() == {"driven": 0, "rejected": 0, "cleaned": 0, "undone": 0}
    assert await ledger.verify(account) == (13, 13)
    assert await all_balances_sum(db) == 0
    assert await db["point_accounts"].count_documents({"pending.0": {"$exists": True}}) == 0


async def test_reconcile_undoes_a_leg_applied_for_a_rejected_entry(db, ledger):
    account = resident_account("r5")
    await ledger.post("seed", account, ISSUER, 10, "earn")
    await db["ledger_entries"].insert_one({
        "_id": "e-late", "idempotency_key": "late", "account": account, "counter_account": SHOP, "amount": -6,
        "kind": "spend", "state": "rejected", "created_at": datetime.now(timezone.utc),
    })
    # A stalled worker debited after the entry had been rejected.
    await db["point_accounts"].update_one({"_id": account}, {"$inc": {"balance": -6}, "$push": {"pending": "e-late"}})
    counts = await ledger.reconcile()
    assert counts["undone"] == 1
    assert await ledger.verify(account) == (10, 10)


async def test_a_hundred_concurrent_redemptions_of_five_in_stock_give_five(db, points):
    item = await points.shop.add_item(COMMUNITY, "大米 5kg", 30, 5)
    residents = [await resident(db, f"buyer{i}") for i in range(100)]
    for person in residents:
        await points.ledger.post(f"seed:{person.id}", resident_account(person.id), ISSUER, 50, "earn")

    async def redeem(person):
        try:
            return await points.redeem(person, item.id, key="tap-1")
        except PointsError as exc:
            return exc.code

    results = await asyncio.gather(*(redeem(p) for p in residents))
    reserved = [r for r in results if not isinstance(r, str)]
    assert len(reserved) == 5
    assert all(r.state == RESERVED for r in reserved)
    assert set(r for r in results if isinstance(r, str)) == {"out_of_stock"}
    stored = await points.shop.get_item(item.id)
    assert stored.stock == 0 and stored.held == 5
    assert await points.ledger.balance(ESCROW) == 5 * 30
    assert sum([await points.balance(p.id) for p in residents]) == 100 * 50 - 5 * 30
    assert await db["shop_reservations"].count_documents({"state": FAILED}) == 95
    assert await all_balances_sum(db) == 0


async def test_redeeming_without_enough_points_puts_the_stock_back(db, points):
    item = await points.shop.add_item(COMMUNITY, "花生油", 120, 2)
    person = await resident(db)
    await points.ledger.post("seed", resident_account(person.id), ISSUER, 100, "earn")
    with pytest.raises(NotEnoughPoints) as info:
        await points.redeem(person, item.id, key="k1")
    assert info.value.balance == 100 and "积分不够" in info.value.zh
    assert (await points.shop.get_item(item.id)).stock == 2
    assert await points.balance(person.id) == 100
    # The same key replays the failure without touching anything.
    with pytest.raises(NotEnoughPoints):
        await points.redeem(person, item.id, key="k1")
    assert (await points.shop.get_item(item.id)).stock == 2


async def test_redemption_replay_confirm_and_void(db, points):
    item = await points.shop.add_item(COMMUNITY, "洗衣皂", 20, 3)
    person = await resident(db)
    await points.ledger.post("seed", resident_account(person.id), ISSUER, 100, "earn")
    first = await points.redeem(person, item.id, key="k1")
    again = await points.redeem(person, item.id, key="k1")
    assert again.id == first.id and again.code == first.code
    assert await points.balance(person.id) == 80
    assert (await points.shop.get_item(item.id)).stock == 2

    done = await points.confirm(first.id, staff_id="s1")
    assert done.state == FULFILLED
    assert await points.ledger.balance(SHOP) == 20 and await points.ledger.balance(ESCROW) == 0
    assert (await points.shop.get_item(item.id)).held == 0
    with pytest.raises(PointsError):
        await points.void(first.id, staff_id="s1", reason="误操作")

    second = await points.redeem(person, item.id, key="k2")
    voided = await points.void(second.id, staff_id="s1", reason="居民不要了")
    assert voided.state == VOIDED
    assert await points.balance(person.id) == 80
    assert (await points.shop.get_item(item.id)).stock == 2
    with pytest.raises(PointsError):
        await points.confirm(second.id, staff_id="s1")
    book = await points.passbook(person.id)
    assert [(e.kind, e.delta_for(resident_account(person.id))) for e in book][:3] == [
        ("redeem_void", 20), ("redeem", -20), ("redeem", -20)]
    notices = await NoticeRepository(db).for_resident(person.id)
    assert any("居民不要了" in n.text and "积分已退回" in n.text for n in notices)


async def test_unclaimed_reservations_expire_and_refund(db, points):
    item = await points.shop.add_item(COMMUNITY, "抽纸", 40, 1)
    person = await resident(db)
    await points.ledger.post("seed", resident_account(person.id), ISSUER, 40, "earn")
    reservation = await points.redeem(person, item.id, key="k1")
    assert await points.balance(person.id) == 0
    counts = await points.run_periodic(datetime.now(timezone.utc) + timedelta(days=points.hold_days, hours=1))
    assert counts["expired"] == 1
    assert (await points.shop.get_reservation(reservation.id)).state == VOIDED
    assert await points.balance(person.id) == 40
    assert (await points.shop.get_item(item.id)).stock == 1
    assert any("自动取消" in n.text for n in await NoticeRepository(db).for_resident(person.id))


async def test_event_rules_award_once_and_reversal_corrects(db, points):
    person = await resident(db)
    bus = events.EventBus()
    bus.subscribe(events.ReportValid, points.on_event)
    payload = {"ticket": "BS-1", "resident_id": person.id, "community": COMMUNITY, "category": "streetlight"}
    await bus.publish(events.ReportValid(**payload))
    await bus.publish(events.ReportValid(**payload))  # a redelivered event
    assert await points.balance(person.id) == 5
    await db["points_rules"].update_one({"_id": "report.valid"}, {"$set": {"points": 8}})
    await bus.publish(events.ReportValid(**{**payload, "ticket": "BS-2"}))
    assert await points.balance(person.id) == 13
    await db["points_rules"].update_one({"_id": "report.valid"}, {"$set": {"active": False}})
    assert await points.award_event("report.valid", {**payload, "ticket": "BS-3"}) is None
    # A resident of another database (another app) is ignored.
    assert await points.award_event("help.completed", {"ref": "h1", "resident_id": "nobody"}) is None

    entry = (await points.passbook(person.id))[0]
    reversal = await points.reverse(staff_id="s1", entry_id=entry.id, reason="重复上报")
    assert reversal.amount == -entry.amount and reversal.reverses == entry.id
    assert await points.balance(person.id) == 5
    again = await points.reverse(staff_id="s1", entry_id=entry.id, reason="重复上报")
    assert again.replayed and await points.balance(person.id) == 5
    with pytest.raises(PointsError):
        await points.reverse(staff_id="s1", entry_id=reversal.id, reason="x")


async def test_staff_award_needs_a_reason_and_is_idempotent(db, points):
    person = await resident(db)
    with pytest.raises(PointsError):
        await points.award(staff_id="s1", resident_id=person.id, points=10, reason=" ", key="f1")
    await points.award(staff_id="s1", resident_id=person.id, points=10, reason="疫情期间志愿值守", key="f1")
    await points.award(staff_id="s1", resident_id=person.id, points=10, reason="疫情期间志愿值守", key="f1")
    assert await points.balance(person.id) == 10
    with pytest.raises(NotEnoughPoints):
        await points.award(staff_id="s1", resident_id=person.id, points=-11, reason="扣错", key="f2")
    assert await points.balance(person.id) == 10


async def test_leaderboard_per_community_per_month(db, points):
    a, b, c = await resident(db, "a"), await resident(db, "b"), await resident(db, "c", "huafu-xintian")
    await ResidentRepository(db).update_profile(a.id, name="王小明")
    await points.award(staff_id="s", resident_id=a.id, points=30, reason="志愿", key="1")
    await points.award(staff_id="s", resident_id=b.id, points=50, reason="志愿", key="2")
    await points.award(staff_id="s", resident_id=c.id, points=90, reason="志愿", key="3")
    item = await points.shop.add_item(COMMUNITY, "皂", 20, 5)
    await points.redeem(b, item.id, key="r")  # spending does not lower the 荣誉榜
    reverse_me = await points.award(staff_id="s", resident_id=a.id, points=40, reason="志愿", key="4")
    await points.reverse(staff_id="s", entry_id=reverse_me.id, reason="录错")
    label, board = await points.leaderboard(COMMUNITY)
    assert label == month_bounds()[0]
    assert [(row.rank, row.resident_id, row.points) for row in board] == [(1, b.id, 50), (2, a.id, 30)]
    assert board[1].display_name == "王**"
    _, last_month = await points.leaderboard(COMMUNITY, "2001-01")
    assert last_month == []


def test_month_bounds_follow_shanghai_time():
    label, start, end = month_bounds("2026-12")
    assert label == "2026-12"
    assert start == datetime(2026, 11, 30, 16, tzinfo=timezone.utc)
    assert end == datetime(2026, 12, 31, 16, tzinfo=timezone.utc)
    with pytest.raises(ValueError):
        month_bounds("2026-13")


async def test_attended_bookings_earn_only_for_volunteer_service(db, points):
    person = await resident(db)
    base = {"resident_id": person.id, "community": COMMUNITY}
    assert await points.award_event("booking.attended", {**base, "booking_id": "b1", "service": "health_check"}) is None
    entry = await points.award_event("booking.attended", {**base, "booking_id": "b2", "service": "volunteer"})
    assert entry.amount == 10 and entry.idempotency_key == "booking.attended:b2" and entry.memo == "参加志愿服务"
    courier = await points.award_event("courier.report", {**base, "ref": "BS-9", "ticket": "BS-9"})
    assert courier.idempotency_key == "courier.report:BS-9"
    assert await points.balance(person.id) == 15


async def test_a_refused_reversal_can_be_tried_again_later(db, points):
    person = await resident(db)
    earned = await points.award(staff_id="s", resident_id=person.id, points=30, reason="志愿", key="a1")
    await points.ledger.post("spend", resident_account(person.id), SHOP, -25, "spend")
    with pytest.raises(PointsError) as info:
        await points.reverse(staff_id="s", entry_id=earned.id, reason="录错")
    assert info.value.code == "already_spent"
    await points.award(staff_id="s", resident_id=person.id, points=40, reason="志愿", key="a2")
    reversal = await points.reverse(staff_id="s", entry_id=earned.id, reason="录错")
    assert not reversal.replayed and await points.balance(person.id) == 15
    assert (await points.reverse(staff_id="s", entry_id=earned.id, reason="录错")).replayed
    assert await points.balance(person.id) == 15


# -- concurrent voids and farming (issue 13, L4 and M4) ------------------------------------


async def test_concurrent_voids_of_one_redemption_succeed_once(db, points):
    item = await points.shop.add_item(COMMUNITY, "洗衣皂", 20, 3)
    person = await resident(db)
    await points.ledger.post("seed", resident_account(person.id), ISSUER, 100, "earn")
    reservation = await points.redeem(person, item.id, key="k1")

    async def void() -> bool:
        try:
            await points.void(reservation.id, staff_id="s1", reason="居民不要了")
            return True
        except PointsError:
            return False

    results = await asyncio.gather(*(void() for _ in range(5)))
    assert results.count(True) == 1
    assert await points.balance(person.id) == 100
    assert (await points.shop.get_item(item.id)).stock == 3
    assert await db["notices"].count_documents({"ref": f"reservation:{reservation.id}"}) == 1


async def _help(points, volunteer, requester, ref: str):
    return await points.award_event("help.completed", {
        "resident_id": volunteer.id, "requester_id": requester.id, "community": COMMUNITY, "ref": ref})


async def test_two_accounts_cannot_farm_points_by_helping_each_other(db, points):
    a, b = await resident(db, "farm-a"), await resident(db, "farm-b")
    for loop in range(20):
        await _help(points, a, b, f"help-ab-{loop}")
        await _help(points, b, a, f"help-ba-{loop}")
    # one award a day between the same two residents, whoever helped whom
    assert await points.balance(a.id) + await points.balance(b.id) == 10


async def test_awards_above_the_daily_cap_wait_for_staff_review(db, points):
    helper = await resident(db, "helper")
    neighbours = [await resident(db, f"n{i}") for i in range(4)]
    for i, neighbour in enumerate(neighbours):
        await _help(points, helper, neighbour, f"help-{i}")
    assert await points.balance(helper.id) == 20  # the default cap of 帮邻居完成求助
    held = await points.pending_reviews({})
    assert [(r.ref, r.points, r.resident_id) for r in held] == [("help-2", 10, helper.id), ("help-3", 10, helper.id)]
    assert "每日上限" in held[0].reason
    await points.decide_review(held[0].id, approve=True, staff_id="s1")
    await points.decide_review(held[1].id, approve=False, staff_id="s1")
    assert await points.balance(helper.id) == 30
    with pytest.raises(PointsError):
        await points.decide_review(held[0].id, approve=True, staff_id="s2")
    assert await points.balance(helper.id) == 30
    assert await points.pending_reviews({}) == []


async def test_concurrent_awards_cannot_pass_the_cap(db, points):
    helper = await resident(db, "helper-c")
    neighbours = [await resident(db, f"c{i}") for i in range(8)]
    await asyncio.gather(*(_help(points, helper, n, f"h-{i}") for i, n in enumerate(neighbours)))
    assert await points.balance(helper.id) == 20
    assert len(await points.pending_reviews({})) == 6
