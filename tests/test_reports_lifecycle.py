"""ReportService rules against the real MongoDB-compatible server and Redis, with a
controlled clock (tests/reports_helpers.py): the state machine
from dispatch to closing, who hears of each step, rating and reopening, and the event the
points hook listens to."""
from __future__ import annotations

import asyncio

import pytest

from services.events import ReportValid
from services.report_rules import IllegalTransition, InvalidReport, NotFound, allowed_actions
from storage.reports import Actor
from tests.reports_helpers import (  # noqa: F401  (fixture)
    FAR, NEAR, STAFF, T0, FakeWeChat, make_world, streetlight, world,
)


# -- the state machine --------------------------------------------------------------------


async def test_full_loop_with_notifications_to_reporter_and_follower(world):
    alice, bob = await world.reporter("rest:alice"), await world.reporter("wechat:bob-openid")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    await world.service.create(bob, streetlight(where=NEAR))  # Bob follows
    report = await world.service.act(ticket, "start", STAFF)
    assert report.status == "in_progress"
    report = await world.service.act(ticket, "resolve", STAFF, note="已更换灯泡",
                                     photo={"source": "upload", "id": "x"})
    assert report.status == "resolved" and report.resolved_at == T0
    assert report.history[-1]["note"] == "已更换灯泡" and report.history[-1]["actor"]["name"] == "王网格"
    assert report.history[-1]["photo"]["id"] == "x"
    notices = await world.notices(alice.resident_id)
    assert len(notices) == 2  # start, resolve (newest first)
    assert ticket in notices[0] and "已更换灯泡" in notices[0] and "打分" in notices[0]
    assert "开始处理" in notices[1]
    # Bob wrote through WeChat: customer-service messages, no stored notices.
    assert [s.openid for s in world.wechat.sent] == ["bob-openid", "bob-openid"]
    assert await world.notices(bob.resident_id) == []
    # Alice confirms and rates: closed.
    closed = await world.service.rate(ticket, alice.resident_id, 5, "很快")
    assert closed.status == "closed" and closed.rating["stars"] == 5 and closed.rating["comment"] == "很快"
    assert [h["status"] for h in closed.history if "status" in h] == [
        "submitted", "dispatched", "in_progress", "resolved", "closed"]
    assert "已办结" in world.wechat.sent[-1].text  # Bob hears it is closed; Alice rated it herself
    assert len(await world.notices(alice.resident_id)) == 2


@pytest.mark.parametrize("status_path,action", [
    ([], "close"),  # dispatched -> closed
    ([], "reopen"),
    (["resolve"], "start"),
    (["resolve"], "reject"),
    (["reject"], "dispatch"),
    (["reject"], "resolve"),
    (["resolve", "close"], "resolve"),
])
async def test_illegal_transitions_are_refused(world, status_path, action):
    ticket = (await world.service.create(await world.reporter("rest:alice"), streetlight())).own_ticket
    for step in status_path:
        await world.service.act(ticket, step, STAFF, note="处理", reason="原因")
    before = await world.service.get(ticket)
    with pytest.raises(IllegalTransition):
        await world.service.act(ticket, action, STAFF, note="x", reason="y", duplicate_of="R20261122-0009")
    after = await world.service.get(ticket)
    assert after.status == before.status and len(after.history) == len(before.history)


async def test_without_auto_dispatch_staff_dispatch_first(db):
    world = await make_world(db, auto_dispatch=False)
    resident = await world.reporter("rest:a")
    ticket = (await world.service.create(resident, streetlight())).own_ticket
    assert (await world.service.get(ticket)).status == "submitted"
    assert allowed_actions("submitted") == ["dispatch", "reject", "duplicate"]
    with pytest.raises(IllegalTransition):
        await world.service.act(ticket, "start", STAFF)
    report = await world.service.act(ticket, "dispatch", STAFF, department="市政路灯所")
    assert report.status == "dispatched" and report.department == "市政路灯所"
    assert "市政路灯所" in (await world.notices(resident.resident_id))[0]


async def test_reject_and_duplicate_need_their_reason_and_target(world):
    alice = await world.reporter("rest:alice")
    first = (await world.service.create(alice, streetlight())).own_ticket
    second = (await world.service.create(alice, streetlight(where=FAR, text="华富路口"))).own_ticket
    with pytest.raises(InvalidReport):
        await world.service.act(second, "reject", STAFF, reason="  ")
    with pytest.raises(InvalidReport):
        await world.service.act(second, "duplicate", STAFF)
    with pytest.raises(InvalidReport):
        await world.service.act(second, "duplicate", STAFF, duplicate_of=second)
    with pytest.raises(InvalidReport):
        await world.service.act(second, "resolve", STAFF, note="")
    marked = await world.service.act(second, "duplicate", STAFF, duplicate_of=first.lower())
    assert marked.status == "duplicate" and marked.duplicate_of == first
    notice = (await world.notices(alice.resident_id))[0]
    assert first in notice and "合并" in notice


async def test_marking_duplicate_makes_its_reporter_follow_the_original(world):
    alice, bob = await world.reporter("rest:alice"), await world.reporter("rest:bob")
    first = (await world.service.create(alice, streetlight())).own_ticket
    second = (await world.service.create(bob, streetlight(where=FAR, text="华富路口"))).own_ticket
    await world.service.act(second, "duplicate", STAFF, duplicate_of=first, reason="同一根灯杆")
    original = await world.service.get(first)
    assert [f["resident_id"] for f in original.followers] == [bob.resident_id]
    await world.service.act(first, "resolve", STAFF, note="修好了")
    notice = (await world.notices(bob.resident_id))[0]  # a follower hears the status, not the staff note
    assert first in notice and "已处理完毕" in notice and "修好了" not in notice


async def test_reject_tells_the_reason(world):
    alice = await world.reporter("rest:alice")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    report = await world.service.act(ticket, "reject", STAFF, reason="该路灯属于小区物业，请联系物业")
    assert report.status == "rejected" and report.reason == "该路灯属于小区物业，请联系物业"
    assert "联系物业" in (await world.notices(alice.resident_id))[0]


async def test_concurrent_staff_actions_apply_once(world):
    ticket = (await world.service.create(await world.reporter("rest:alice"), streetlight())).own_ticket
    results = await asyncio.gather(
        *(world.service.act(ticket, "start", Actor("staff", f"s{i}", f"员工{i}")) for i in range(5)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, IllegalTransition) for r in results if isinstance(r, Exception))
    report = await world.service.get(ticket)
    assert [h["action"] for h in report.history].count("start") == 1


async def test_scope_hides_other_communities(world):
    ticket = (await world.service.create(await world.reporter("rest:alice"), streetlight())).own_ticket
    with pytest.raises(NotFound):
        await world.service.act(ticket, "start", STAFF, scope={"community": "huafu-xintian"})
    report = await world.service.act(ticket, "start", STAFF, scope={"community": {"$in": ["huafu-tianmian"]}})
    assert report.status == "in_progress"


# -- notifications ------------------------------------------------------------------------


async def test_undeliverable_wechat_message_becomes_a_stored_notice(db):
    world = await make_world(db, FakeWeChat(deliver=False))
    resident = await world.reporter("wechat:o1")
    ticket = (await world.service.create(resident, streetlight())).own_ticket
    await world.service.act(ticket, "start", STAFF)
    assert len(world.wechat.sent) == 1
    notices = await world.service.notifier.for_resident(resident.resident_id)
    assert len(notices) == 1 and notices[0].ref == ticket and not notices[0].read


async def test_erased_resident_is_not_contacted(world):
    alice = await world.reporter("wechat:alice-openid")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    await world.residents.anonymise(alice.resident_id)
    await world.service.act(ticket, "start", STAFF)
    assert world.wechat.sent == []
    assert await world.db.notices.count_documents({}) == 0


# -- rating and reopening ------------------------------------------------------------------


async def test_rating_rules(world):
    alice, bob = await world.reporter("rest:alice"), await world.reporter("rest:bob")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    with pytest.raises(IllegalTransition):
        await world.service.rate(ticket, alice.resident_id, 5)  # not resolved yet
    await world.service.act(ticket, "resolve", STAFF, note="好了")
    for stars in (0, 6, "5", True, 4.5):
        with pytest.raises(InvalidReport):
            await world.service.rate(ticket, alice.resident_id, stars)
    with pytest.raises(NotFound):
        await world.service.rate(ticket, bob.resident_id, 5)
    assert (await world.service.rate(ticket, alice.resident_id, 3)).status == "closed"


async def test_resident_reopens_an_unfixed_problem(world):
    alice = await world.reporter("rest:alice")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    await world.service.act(ticket, "resolve", STAFF, note="好了")
    report = await world.service.reopen(ticket, alice.resident_id, "晚上还是不亮")
    assert report.status == "in_progress" and report.resolved_at is None
    assert report.history[-1]["actor"] == {"kind": "resident", "id": alice.resident_id, "name": None}
    assert report.history[-1]["note"] == "晚上还是不亮"


# -- the points hook ------------------------------------------------------------------------


async def test_valid_report_event_is_published_once(world):
    received = []

    async def award(event: ReportValid):
        received.append(event.payload())

    async def broken(event: ReportValid):
        raise RuntimeError("a broken subscriber must not break the action")

    world.bus.subscribe(ReportValid, broken)
    world.bus.subscribe(ReportValid, award)
    alice = await world.reporter("rest:alice")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    rejected = (await world.service.create(alice, streetlight(where=FAR, text="别处"))).own_ticket
    await world.service.act(rejected, "reject", STAFF, reason="不属实")
    assert received == []
    await world.service.act(ticket, "resolve", STAFF, note="好了")
    await world.service.reopen(ticket, alice.resident_id)
    await world.service.act(ticket, "resolve", STAFF, note="这次真好了")
    assert len(received) == 1
    assert received[0]["ticket"] == ticket and received[0]["resident_id"] == alice.resident_id
    assert received[0]["category"] == "streetlight" and received[0]["community"] == "huafu-tianmian"
