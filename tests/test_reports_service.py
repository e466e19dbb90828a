"""ReportService rules against the real MongoDB-compatible server and Redis, with a
controlled clock: tickets, routing, duplicates, the state machine, notifications,
SLA escalation, auto-close, rating, the points hook and the periodic lock."""
from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest
import pytest_asyncio

from bot.periodic import PeriodicTask
from services.events import REPORT_VALID, EventBus
from services.notify import Notifier
from services.report_rules import (
    IllegalTransition, InvalidReport, NewReport, NotFound, Reporter, ReportRules, allowed_actions,
)
from services.reports import ReportService
from storage import mongo
from storage.notices import NoticeRepository
from storage.reports import Actor, ReportRepository, find_ticket
from storage.residents import ResidentRepository
from storage.routing import DEFAULT_ROUTES, RoutingRepository

T0 = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)  # 10:00 in Shenzhen
STAFF = Actor("staff", "s1", "王网格")
HUAFU = (22.5500, 114.0500)  # latitude, longitude
NEAR = (22.5502, 114.0503)  # ~35 m away
FAR = (22.5600, 114.0500)  # ~1.1 km away


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class SentText:
    openid: str
    text: str


class FakeWeChat:
    """Stands in for bot.wechat_api.WeChatClient.send_text."""

    def __init__(self, deliver: bool = True) -> None:
        self.sent: list[SentText] = []
        self.deliver = deliver

    async def send_text(self, openid: str, text: str):
        from bot.wechat_api import SendResult

        self.sent.append(SentText(openid, text))
        return SendResult(True) if self.deliver else SendResult(False, 45015, "response out of time limit")


@dataclass
class World:
    service: ReportService
    clock: Clock
    residents: ResidentRepository
    bus: EventBus
    wechat: FakeWeChat
    db: object

    async def reporter(self, user_key: str, community: str = "huafu-tianmian") -> Reporter:
        resident = await self.residents.for_user_key(user_key, community)
        return Reporter(resident.id, user_key, resident.community)

    async def notices(self, resident_id: str) -> list[str]:
        return [n.text for n in await self.service.notifier.for_resident(resident_id)]


def make_service(db, clock: Clock, wechat: FakeWeChat | None = None, bus: EventBus | None = None,
                 **rules) -> ReportService:
    notifier = Notifier(NoticeRepository(db), ResidentRepository(db), wechat=lambda: wechat, clock=clock)
    return ReportService(ReportRepository(db), RoutingRepository(db), notifier, ReportRules(**rules),
                         clock=clock, bus=bus or EventBus())


@pytest_asyncio.fixture
async def world(db) -> World:
    await mongo.ensure_indexes(db, conversation_retention_days=30)
    clock, wechat, bus = Clock(), FakeWeChat(), EventBus()
    service = make_service(db, clock, wechat, bus)
    return World(service, clock, ResidentRepository(db), bus, wechat, db)


def streetlight(where=HUAFU, text="3栋门口", description="路灯不亮了") -> NewReport:
    lat, lng = where if where else (None, None)
    return NewReport(category="streetlight", description=description, location_text=text, latitude=lat, longitude=lng)


# -- creating ---------------------------------------------------------------------------


async def test_create_routes_dispatches_and_numbers_the_ticket(world):
    reporter = await world.reporter("rest:alice")
    created = await world.service.create(reporter, streetlight())
    report = created.report
    assert not created.duplicate and created.own_ticket == report.ticket
    assert re.fullmatch(r"R20261122-0001", report.ticket)
    route = DEFAULT_ROUTES["streetlight"]
    assert report.department == route.department and report.sla_hours == route.sla_hours
    assert report.due_at == T0 + timedelta(hours=route.sla_hours)
    assert report.status == "dispatched"  # 自动派单
    assert [h["status"] for h in report.history] == ["submitted", "dispatched"]
    assert report.history[1]["actor"]["kind"] == "system"
    assert report.location == {"type": "Point", "coordinates": [HUAFU[1], HUAFU[0]]}
    doc = await world.db.reports.find_one({"_id": report.ticket})
    assert doc["resident_id"] == reporter.resident_id and doc["channel"] == "rest"
    assert doc["community"] == "huafu-tianmian"
    assert "user_key" not in str(doc)  # the resident is referenced by id only


async def test_ticket_day_follows_china_time_and_sequence_restarts(world):
    reporter = await world.reporter("rest:alice")
    world.clock.now = datetime(2026, 11, 22, 15, 59, tzinfo=timezone.utc)  # 23:59 in China
    first = await world.service.create(reporter, streetlight(where=None, text="A"))
    world.clock.advance(minutes=2)  # 00:01 on the 23rd in China
    second = await world.service.create(reporter, streetlight(where=None, text="B"))
    assert first.own_ticket == "R20261122-0001"
    assert second.own_ticket == "R20261123-0001"


async def test_routing_table_is_editable(world):
    await RoutingRepository(world.db).set("streetlight", "华富街道路灯专班", 6)
    created = await world.service.create(await world.reporter("rest:alice"), streetlight())
    assert created.report.department == "华富街道路灯专班"
    assert created.report.due_at == T0 + timedelta(hours=6)


async def test_concurrent_creations_never_share_a_ticket_number(world, settings):
    """Two app processes (two clients) creating at the same moment."""
    other_client, other_db = mongo.connect(settings.mongodb_uri, settings.mongodb_db)
    try:
        other = make_service(other_db, world.clock)
        reporter = await world.reporter("rest:alice")
        jobs = []
        for i in range(12):
            service = world.service if i % 2 else other
            jobs.append(service.create(reporter, NewReport(category="noise", description=f"噪音{i}",
                                                           location_text=f"{i}栋")))
        results = await asyncio.gather(*jobs)
    finally:
        other_client.close()
    tickets = [r.own_ticket for r in results]
    assert len(set(tickets)) == 12
    assert all(re.fullmatch(r"R20261122-\d{4}", t) for t in tickets)
    assert sorted(await world.db.reports.distinct("_id")) == sorted(tickets)


async def test_a_taken_ticket_number_is_never_reused(world):
    """Even if the day's counter were reset (restored backup), a new report gets a free number."""
    reporter = await world.reporter("rest:alice")
    first = await world.service.create(reporter, streetlight(where=None, text="A"))
    await world.db.counters.update_one({"_id": "report:20261122"}, {"$set": {"seq": 0}})
    second = await world.service.create(reporter, streetlight(where=None, text="B"))
    assert first.own_ticket == "R20261122-0001" and second.own_ticket == "R20261122-0002"
    assert (await world.service.get(first.own_ticket)).location_text == "A"


@pytest.mark.parametrize("new,code", [
    (NewReport(category="ufo", description="x"), "invalid_category"),
    (NewReport(category="road", description="   "), "missing_description"),
    (NewReport(category="road", description="坑", latitude=95.0, longitude=114.0), "invalid_location"),
    (NewReport(category="road", description="坑", latitude=22.5, longitude=None), "invalid_location"),
    (NewReport(category="road", description="坑", photos=[{"id": str(i)} for i in range(4)]), "too_many_photos"),
])
async def test_invalid_reports_are_refused(world, new, code):
    with pytest.raises(InvalidReport) as info:
        await world.service.create(await world.reporter("rest:alice"), new)
    assert info.value.code == code
    assert await world.db.reports.count_documents({}) == 0


# -- duplicates ---------------------------------------------------------------------------


async def test_nearby_report_of_same_category_follows_the_open_ticket(world):
    alice, bob = await world.reporter("rest:alice"), await world.reporter("wechat:bob-openid")
    first = await world.service.create(alice, streetlight())
    world.clock.advance(hours=5)
    second = await world.service.create(bob, streetlight(where=NEAR, text="三栋大门口"))
    assert second.duplicate and not second.again
    assert second.report.ticket == first.own_ticket
    assert second.own_ticket != first.own_ticket
    own = await world.service.get(second.own_ticket)
    assert own.status == "duplicate" and own.duplicate_of == first.own_ticket and own.reason
    assert own.resident_id == bob.resident_id
    linked = await world.service.get(first.own_ticket)
    assert [f["resident_id"] for f in linked.followers] == [bob.resident_id]
    # Bob follows the open ticket: it is what he sees as his.
    mine = await world.service.for_resident(bob.resident_id)
    assert [r.ticket for r in mine] == [first.own_ticket]


async def test_reporting_the_same_problem_again_is_recognised(world):
    alice = await world.reporter("rest:alice")
    first = await world.service.create(alice, streetlight())
    again = await world.service.create(alice, streetlight(where=NEAR))
    assert again.duplicate and again.again and again.report.ticket == first.own_ticket
    assert (await world.service.get(first.own_ticket)).followers == []  # not her own follower


async def test_same_location_text_without_coordinates_is_a_duplicate(world):
    alice, bob = await world.reporter("rest:alice"), await world.reporter("rest:bob")
    first = await world.service.create(alice, streetlight(where=None, text="3栋 门口"))
    second = await world.service.create(bob, streetlight(where=None, text="3栋门口！"))
    assert second.duplicate and second.report.ticket == first.own_ticket


@pytest.mark.parametrize("change", ["far", "other_category", "after_window", "original_resolved", "other_text"])
async def test_reports_that_are_not_duplicates(world, change):
    alice, bob = await world.reporter("rest:alice"), await world.reporter("rest:bob")
    first = await world.service.create(alice, streetlight())
    new = streetlight(where=NEAR, text="三栋大门口")
    if change == "far":
        new = streetlight(where=FAR, text="华富路口")
    elif change == "other_category":
        new = NewReport(category="garbage", description="垃圾没人收", location_text="3栋门口",
                        latitude=NEAR[0], longitude=NEAR[1])
    elif change == "after_window":
        world.clock.advance(hours=73)
    elif change == "original_resolved":
        await world.service.act(first.own_ticket, "resolve", STAFF, note="换了灯泡")
    elif change == "other_text":
        new = streetlight(where=None, text="5栋后门")
    second = await world.service.create(bob, new)
    assert not second.duplicate
    assert second.report.ticket == second.own_ticket != first.own_ticket


async def test_duplicate_radius_and_window_are_configurable(db):
    await mongo.ensure_indexes(db, conversation_retention_days=30)
    clock = Clock()
    service = make_service(db, clock, dup_radius_m=2000, dup_window_hours=1)
    residents = ResidentRepository(db)
    a = await residents.for_user_key("rest:a", "huafu-tianmian")
    b = await residents.for_user_key("rest:b", "huafu-tianmian")
    first = await service.create(Reporter(a.id, "rest:a", a.community), streetlight())
    far = await service.create(Reporter(b.id, "rest:b", b.community), streetlight(where=FAR, text="别处"))
    assert far.duplicate and far.report.ticket == first.own_ticket  # 1.1 km < 2 km
    clock.advance(hours=2)
    later = await service.create(Reporter(b.id, "rest:b", b.community), streetlight(where=FAR, text="别处"))
    assert not later.duplicate


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
    await mongo.ensure_indexes(db, conversation_retention_days=30)
    service = make_service(db, Clock(), auto_dispatch=False)
    resident = await ResidentRepository(db).for_user_key("rest:a", "huafu-tianmian")
    ticket = (await service.create(Reporter(resident.id, "rest:a", resident.community), streetlight())).own_ticket
    assert (await service.get(ticket)).status == "submitted"
    assert allowed_actions("submitted") == ["dispatch", "reject", "duplicate"]
    with pytest.raises(IllegalTransition):
        await service.act(ticket, "start", STAFF)
    report = await service.act(ticket, "dispatch", STAFF, department="市政路灯所")
    assert report.status == "dispatched" and report.department == "市政路灯所"
    assert "市政路灯所" in (await service.notifier.for_resident(resident.id))[0].text


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
    await mongo.ensure_indexes(db, conversation_retention_days=30)
    wechat = FakeWeChat(deliver=False)
    service = make_service(db, Clock(), wechat)
    resident = await ResidentRepository(db).for_user_key("wechat:o1", "huafu-tianmian")
    ticket = (await service.create(Reporter(resident.id, "wechat:o1", resident.community), streetlight())).own_ticket
    await service.act(ticket, "start", STAFF)
    assert len(wechat.sent) == 1
    notices = await service.notifier.for_resident(resident.id)
    assert len(notices) == 1 and notices[0].ref == ticket and not notices[0].read


async def test_erased_resident_is_not_contacted(world):
    alice = await world.reporter("wechat:alice-openid")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    await world.residents.anonymise(alice.resident_id)
    await world.service.act(ticket, "start", STAFF)
    assert world.wechat.sent == []
    assert await world.db.notices.count_documents({}) == 0


# -- escalation and auto-close --------------------------------------------------------------


async def test_sla_escalation_with_a_controlled_clock(world):
    alice = await world.reporter("rest:alice")
    light = (await world.service.create(alice, streetlight())).own_ticket  # 48 h
    elevator = (await world.service.create(alice, NewReport(category="elevator", description="电梯困人",
                                                            location_text="5栋"))).own_ticket  # 12 h
    done = (await world.service.create(alice, NewReport(category="fire", description="灭火器过期",
                                                        location_text="7栋"))).own_ticket  # 12 h
    await world.service.act(done, "resolve", STAFF, note="已更换")
    world.clock.advance(hours=11, minutes=59)
    assert await world.service.escalate_overdue() == []
    world.clock.advance(minutes=2)
    assert await world.service.escalate_overdue() == [elevator]
    report = await world.service.get(elevator)
    assert report.overdue and report.level == "street"
    assert report.history[-1]["action"] == "escalate" and report.history[-1]["actor"]["kind"] == "system"
    assert report.status == "dispatched"  # escalation is not a status change
    assert await world.service.escalate_overdue() == []  # one level only, once
    world.clock.advance(hours=48)
    assert await world.service.escalate_overdue() == [light]
    assert not (await world.service.get(done)).overdue
    board, total = await world.service.repo.board({}, overdue=True)
    assert total == 2 and {r.ticket for r in board} == {light, elevator}


async def test_unconfirmed_resolution_is_closed_automatically(world):
    alice = await world.reporter("rest:alice")
    ticket = (await world.service.create(alice, streetlight())).own_ticket
    await world.service.act(ticket, "resolve", STAFF, note="修好了")
    world.clock.advance(days=6, hours=23)
    assert (await world.service.run_timers())["closed"] == []
    world.clock.advance(hours=2)
    assert (await world.service.run_timers())["closed"] == [ticket]
    report = await world.service.get(ticket)
    assert report.status == "closed" and report.closed_at == world.clock.now
    assert "自动结案" in report.history[-1]["note"]
    assert "已办结" in (await world.notices(alice.resident_id))[0]
    # The reporter can still rate an auto-closed ticket, once.
    rated = await world.service.rate(ticket, alice.resident_id, 4)
    assert rated.rating["stars"] == 4 and rated.status == "closed"
    with pytest.raises(IllegalTransition):
        await world.service.rate(ticket, alice.resident_id, 5)


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

    async def award(payload):
        received.append(payload)

    async def broken(payload):
        raise RuntimeError("a broken subscriber must not break the action")

    world.bus.subscribe(REPORT_VALID, broken)
    world.bus.subscribe(REPORT_VALID, award)
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


# -- stats ---------------------------------------------------------------------------------


async def test_stats_count_by_category_and_median_hours(world):
    alice = await world.reporter("rest:alice")
    tickets = []
    for i in range(3):
        tickets.append((await world.service.create(alice, NewReport(
            category="garbage", description="垃圾", location_text=f"{i}栋"))).own_ticket)
    await world.service.create(alice, streetlight())
    for hours, ticket in zip((2, 4, 9), tickets):
        world.clock.now = T0 + timedelta(hours=hours)
        await world.service.act(ticket, "resolve", STAFF, note="清运了")
    stats = await world.service.repo.stats({})
    by = {s.category: s for s in stats}
    assert by["garbage"].count == 3 and by["garbage"].resolved == 3 and by["garbage"].median_hours == 4.0
    assert by["streetlight"].count == 1 and by["streetlight"].median_hours is None
    assert await world.service.repo.stats({"community": "huafu-xintian"}) == []


async def test_indexes_survive_a_restart(db):
    """Every app start creates the indexes again (secantusdb keeps the 2dsphere version)."""
    for _ in range(2):
        await mongo.ensure_indexes(db, conversation_retention_days=30)
    indexes = await db.reports.index_information()
    assert indexes["location_2dsphere"]["key"] == [("location", "2dsphere")]


def test_ticket_numbers_are_found_in_text():
    assert find_ticket("查一下R20261122-0001") == "R20261122-0001"
    assert find_ticket("r202611220012 怎么样了") == "R20261122-0012"
    assert find_ticket("单号R20261120015处理了没有") == "R20261120-0015"
    assert find_ticket("电话13800001111") is None
    assert find_ticket("XR20261122-0001") is None


# -- the periodic lock ---------------------------------------------------------------------


async def test_periodic_job_runs_once_per_tick_across_workers(redis):
    runs: list[str] = []

    def job(worker: str):
        async def run() -> None:
            runs.append(worker)
        return run

    workers = [PeriodicTask("test-job", 300, job(f"w{i}"), redis) for i in range(4)]
    ran = await asyncio.gather(*(w.tick() for w in workers))
    assert sum(ran) == 1 and len(runs) == 1
    assert 0 < await redis.pttl("linli:periodic:test-job") <= 270_000
    assert not any(await asyncio.gather(*(w.tick() for w in workers)))  # same tick: nobody again
    await redis.delete("linli:periodic:test-job")  # the tick's claim expired
    ran = await asyncio.gather(*(w.tick() for w in workers))
    assert sum(ran) == 1 and len(runs) == 2


async def test_a_failed_tick_does_not_block_the_next(redis):
    calls = []

    async def job() -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("first tick fails")

    task = PeriodicTask("flaky", 300, job, lambda: redis)
    with pytest.raises(RuntimeError):
        await task.tick()  # the loop logs this and carries on
    await redis.delete(task.key)  # the next tick
    assert await task.tick() is True
    assert len(calls) == 2


# -- duplicates under concurrency (issue 13, L5) --------------------------------------------


async def test_twelve_concurrent_reports_at_one_place_make_one_original(db, redis):
    """Two workers (two services, one Redis lock) and twelve residents reporting at once."""
    from storage.locks import redis_serializer

    await mongo.ensure_indexes(db, conversation_retention_days=30)
    clock = Clock()
    workers = [make_service(db, clock) for _ in range(2)]
    for worker in workers:
        worker._serialize = redis_serializer(redis)
    residents = ResidentRepository(db)
    reporters = []
    for i in range(12):
        resident = await residents.for_user_key(f"rest:neighbour-{i}", "huafu-tianmian")
        reporters.append(Reporter(resident.id, f"rest:neighbour-{i}", resident.community))
    created = await asyncio.gather(*(
        workers[i % 2].create(reporter, streetlight()) for i, reporter in enumerate(reporters)
    ))
    assert sum(not c.duplicate for c in created) == 1
    original = next(c.report.ticket for c in created if not c.duplicate)
    assert {c.report.ticket for c in created} == {original}
    assert await db.reports.count_documents({"status": {"$ne": "duplicate"}}) == 1
    assert await db.reports.count_documents({"duplicate_of": original}) == 11


async def test_without_redis_one_process_is_still_serialized(world):
    reporters = [await world.reporter(f"rest:n{i}") for i in range(6)]
    created = await asyncio.gather(*(world.service.create(r, streetlight()) for r in reporters))
    assert sum(not c.duplicate for c in created) == 1
