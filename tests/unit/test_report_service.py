"""ReportService rules on in-memory repositories (tests/fakes): no MongoDB, no Redis.

The fakes pass tests/contract/test_reports_contract.py against the real repositories, so
these rules hold for the service as deployed; tests/test_reports_*.py cover the parts only
the real stack shows (concurrency, Redis serializing, WeChat delivery)."""
from __future__ import annotations

from datetime import timedelta

import pytest

from services.events import EventBus, ReportValid
from services.report_rules import (
    MAX_SLA_HOURS, IllegalTransition, InvalidReport, NewReport, NotFound, Reporter, ReportRules,
    allowed_actions,
)
from services.reports import ReportService
from storage.routing import CATEGORIES, DEFAULT_ROUTES
from tests.fakes.reports import FakeReportRepository, FakeRoutingRepository
from tests.fakes.services import Clock, RecordingNotifier
from tests.reports_helpers import FAR, HUAFU, NEAR, STAFF, T0, resolve_until_autoclosed

pytestmark = pytest.mark.unit

HERE = HUAFU
ALICE = Reporter("res-alice", "rest:alice", "c1")
BOB = Reporter("res-bob", "wechat:bob", "c1")
CAROL = Reporter("res-carol", "rest:carol", "c2")


class World:
    def __init__(self, **rules) -> None:
        self.clock = Clock(T0)
        self.repo = FakeReportRepository()
        self.routing = FakeRoutingRepository()
        self.notifier = RecordingNotifier()
        self.bus = EventBus()
        self.valid: list[dict] = []
        self.bus.subscribe(ReportValid, self._on_valid)
        self.service = ReportService(self.repo, self.routing, self.notifier, ReportRules(**rules),
                                     clock=self.clock, bus=self.bus)

    async def _on_valid(self, event: ReportValid) -> None:
        self.valid.append(event.payload())


@pytest.fixture
def world() -> World:
    return World()


def lamp(where=HERE, text="3栋门口", category="streetlight", **kw) -> NewReport:
    lat, lng = where if where else (None, None)
    return NewReport(category=category, description="路灯不亮了", location_text=text, latitude=lat, longitude=lng,
                     **kw)


# -- creating: routing, validation, duplicates ------------------------------------------


async def test_a_new_report_is_routed_numbered_and_dispatched(world):
    created = await world.service.create(ALICE, lamp())
    report = created.report
    route = DEFAULT_ROUTES["streetlight"]
    assert not created.duplicate and created.own_ticket == report.ticket == "R20261122-0001"
    assert (report.department, report.sla_hours) == (route.department, route.sla_hours)
    assert report.due_at == T0 + timedelta(hours=route.sla_hours)
    assert report.status == "dispatched" and [h["action"] for h in report.history] == ["submit", "dispatch"]
    assert report.channel == "rest" and report.location == {"type": "Point", "coordinates": [HERE[1], HERE[0]]}


async def test_an_edited_route_decides_department_and_due_time(world):
    await world.routing.set("streetlight", "路灯专班", 6)
    report = (await world.service.create(ALICE, lamp())).report
    assert report.department == "路灯专班" and report.due_at == T0 + timedelta(hours=6)


async def test_without_auto_dispatch_the_ticket_waits_as_submitted():
    world = World(auto_dispatch=False)
    report = (await world.service.create(ALICE, lamp())).report
    assert report.status == "submitted"
    assert allowed_actions(report.status) == ["dispatch", "reject", "duplicate"]


@pytest.mark.parametrize("new, code", [
    (NewReport(category="weather", description="x"), "invalid_category"),
    (NewReport(category="road", description="   "), "missing_description"),
    (NewReport(category="road", description="x", photos=[{}] * 4), "too_many_photos"),
    (NewReport(category="road", description="x", latitude=91, longitude=0), "invalid_location"),
    (NewReport(category="road", description="x", latitude="north", longitude=0), "invalid_location"),
])
async def test_invalid_reports_are_refused(world, new, code):
    with pytest.raises(InvalidReport) as refused:
        await world.service.create(ALICE, new)
    assert refused.value.code == code
    assert world.repo.docs == {}


async def test_a_nearby_report_follows_the_open_ticket(world):
    original = await world.service.create(ALICE, lamp(text="A"))
    second = await world.service.create(BOB, lamp(where=NEAR, text="B"))
    assert second.duplicate and not second.again
    assert second.report.ticket == original.report.ticket and second.own_ticket != original.own_ticket
    assert [f["resident_id"] for f in second.report.followers] == ["res-bob"]
    own = await world.service.get(second.own_ticket)
    assert own.status == "duplicate" and own.duplicate_of == original.report.ticket


async def test_the_same_location_text_without_coordinates_is_a_duplicate(world):
    await world.service.create(ALICE, lamp(where=None, text="3栋 门口"))
    assert (await world.service.create(BOB, lamp(where=None, text="3栋门口！"))).duplicate


async def test_reporting_the_same_problem_again_is_recognised(world):
    await world.service.create(ALICE, lamp())
    assert (await world.service.create(ALICE, lamp())).again


@pytest.mark.parametrize("change", ["far", "category", "community", "window", "closed"])
async def test_reports_that_are_not_duplicates(world, change):
    first = await world.service.create(ALICE, lamp())
    reporter, new = BOB, lamp()
    if change == "far":
        new = lamp(where=FAR, text="另一处")
    elif change == "category":
        new = lamp(category="road")
    elif change == "community":
        reporter = CAROL
    elif change == "window":
        world.clock.advance(hours=73)
    else:
        await world.service.act(first.report.ticket, "reject", STAFF, reason="不属实")
    assert not (await world.service.create(reporter, new)).duplicate


async def test_the_duplicate_radius_is_a_rule():
    world = World(dup_radius_m=10)
    await world.service.create(ALICE, lamp(text="A"))
    assert not (await world.service.create(BOB, lamp(where=NEAR, text="B"))).duplicate


# -- the routing table (staff edit it) ------------------------------------------------------


async def test_staff_give_a_category_another_department_and_time(world):
    table = await world.service.routing_table()
    assert [r.category for r in table] == list(CATEGORIES) and table[0] == DEFAULT_ROUTES["streetlight"]
    before, after = await world.service.set_route("drainage", "华富水务所", "8")
    assert before == DEFAULT_ROUTES["drainage"] and (after.department, after.sla_hours) == ("华富水务所", 8)
    assert after in await world.service.routing_table()
    _, after = await world.service.set_route("drainage", "华富水务所", MAX_SLA_HOURS)
    assert after.sla_hours == MAX_SLA_HOURS
    report = (await world.service.create(ALICE, lamp(category="drainage"))).report
    assert report.department == "华富水务所" and report.due_at == T0 + timedelta(hours=MAX_SLA_HOURS)


@pytest.mark.parametrize("category, department, hours", [
    ("weather", "街道水务站", "8"), ("drainage", "", "8"), ("drainage", "街道水务站", "0"),
    ("drainage", "街道水务站", str(MAX_SLA_HOURS + 1)), ("drainage", "街道水务站", "8h"),
    ("drainage", "街道水务站", ""), ("drainage", "街道水务站", -3),
])
async def test_a_route_needs_a_known_category_a_department_and_a_time_in_range(world, category, department,
                                                                                hours):
    with pytest.raises(InvalidReport) as refused:
        await world.service.set_route(category, department, hours)
    assert (refused.value.status, str(refused.value)) == (
        400, f"请填写承办部门和 1-{MAX_SLA_HOURS} 之间的办理时限（小时）")
    assert world.routing.routes == {}


# -- the state machine ------------------------------------------------------------------


async def test_the_full_loop_tells_the_reporter_and_the_follower(world):
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    await world.service.create(BOB, lamp(where=NEAR))
    await world.service.act(ticket, "start", STAFF)
    resolved = await world.service.act(ticket, "resolve", STAFF, note="已更换灯泡")
    assert resolved.status == "resolved" and resolved.resolved_at == T0
    assert allowed_actions(resolved.status, ("close", "reopen")) == ["close", "reopen"]
    for resident in ("res-alice", "res-bob"):
        assert [n["ref"] for n in world.notifier.to(resident)] == [ticket, ticket]
    assert world.notifier.to("res-bob")[0]["channel"] == "wechat"
    # a follower's notice never carries the staff note (Report.seen_by)
    assert "已更换灯泡" in world.notifier.to("res-alice")[1]["text"]
    assert "已更换灯泡" not in world.notifier.to("res-bob")[1]["text"]


@pytest.mark.parametrize("path, action", [
    ([], "reopen"), ([], "close"), ([("start", {})], "dispatch"),
    ([("reject", {"reason": "不属实"})], "resolve"), ([], "fly"),
])
async def test_illegal_transitions_are_refused(world, path, action):
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    for step, kw in path:
        await world.service.act(ticket, step, STAFF, **kw)
    before = await world.service.get(ticket)
    with pytest.raises(IllegalTransition):
        await world.service.act(ticket, action, STAFF, note="n")
    assert (await world.service.get(ticket)).history == before.history


async def test_resolve_reject_and_duplicate_need_their_note_reason_and_target(world):
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    for action, kw, code in [("resolve", {}, "missing_note"), ("reject", {}, "missing_reason"),
                             ("duplicate", {}, "missing_duplicate_of"),
                             ("duplicate", {"duplicate_of": ticket}, "missing_duplicate_of"),
                             ("duplicate", {"duplicate_of": "R20261122-0099"}, "bad_duplicate_of")]:
        with pytest.raises(InvalidReport) as refused:
            await world.service.act(ticket, action, STAFF, **kw)
        assert refused.value.code == code


async def test_marking_a_duplicate_makes_its_people_follow_the_original(world):
    original = (await world.service.create(ALICE, lamp(text="A"))).report.ticket
    other = (await world.service.create(BOB, lamp(where=FAR, text="B"))).report.ticket
    marked = await world.service.act(other, "duplicate", STAFF, duplicate_of=original.lower())
    assert marked.status == "duplicate" and marked.duplicate_of == original
    assert (await world.service.get(original)).follows("res-bob")


async def test_staff_scope_hides_other_communities(world):
    ticket = (await world.service.create(CAROL, lamp())).report.ticket
    with pytest.raises(NotFound):
        await world.service.act(ticket, "start", STAFF, scope={"community": "c1"})
    with pytest.raises(NotFound):
        await world.service.get(ticket, {"community": {"$in": ["c1"]}})


async def test_a_failing_notice_never_undoes_the_staff_action(world):
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    world.notifier.fail = True
    assert (await world.service.act(ticket, "start", STAFF)).status == "in_progress"


async def test_a_follower_sees_the_status_but_not_the_reporters_details(world):
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    await world.service.create(BOB, lamp(where=NEAR))
    seen = await world.service.get_for_resident(ticket, "res-bob")
    assert seen.status == "dispatched" and seen.description == "" and seen.location is None
    with pytest.raises(NotFound):
        await world.service.get_for_resident(ticket, "res-carol")


# -- the resident's side ------------------------------------------------------------------


async def test_rating_rules(world):
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    await world.service.create(BOB, lamp(where=NEAR))
    with pytest.raises(IllegalTransition) as early:
        await world.service.rate(ticket, "res-alice", 5)
    assert early.value.code == "not_resolved"
    await world.service.act(ticket, "resolve", STAFF, note="修好了")
    for stars in (0, 6, True, "5"):
        with pytest.raises(InvalidReport):
            await world.service.rate(ticket, "res-alice", stars)
    with pytest.raises(NotFound):
        await world.service.rate(ticket, "res-bob", 5)  # a follower is not the reporter
    closed = await world.service.rate(ticket, "res-alice", 4, "很快")
    assert closed.status == "closed" and closed.rating["stars"] == 4 and closed.closed_at == T0
    with pytest.raises(IllegalTransition) as twice:
        await world.service.rate(ticket, "res-alice", 5)
    assert twice.value.code == "already_rated"


async def test_the_reporter_reopens_an_unfixed_problem(world):
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    await world.service.act(ticket, "resolve", STAFF, note="修好了")
    sent = len(world.notifier.to("res-alice"))
    reopened = await world.service.reopen(ticket, "res-alice")
    assert reopened.status == "in_progress" and reopened.resolved_at is None
    assert reopened.history[-1]["actor"] == {"kind": "resident", "id": "res-alice", "name": None}
    assert len(world.notifier.to("res-alice")) == sent  # not told about their own action


async def test_the_points_event_is_published_once_per_ticket(world):
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    await world.service.act(ticket, "resolve", STAFF, note="修好了")
    await world.service.reopen(ticket, "res-alice")
    await world.service.act(ticket, "resolve", STAFF, note="这次真修好了")
    assert [(e["ticket"], e["resident_id"], e["category"]) for e in world.valid] == [
        (ticket, "res-alice", "streetlight")]
    rejected = (await world.service.create(BOB, lamp(where=FAR, text="别处"))).report.ticket
    await world.service.act(rejected, "reject", STAFF, reason="不属实")
    assert len(world.valid) == 1


# -- timers ---------------------------------------------------------------------------


async def test_overdue_tickets_escalate_once_to_the_street(world):
    gas = (await world.service.create(ALICE, lamp(category="gas"))).report  # 4 hours
    lamp_ticket = (await world.service.create(ALICE, lamp(where=FAR, text="x"))).report.ticket  # 48 hours
    world.clock.advance(hours=3)
    assert await world.service.escalate_overdue() == []
    world.clock.advance(hours=2)
    assert await world.service.escalate_overdue() == [gas.ticket]
    escalated = await world.service.get(gas.ticket)
    assert escalated.level == "street" and escalated.overdue and escalated.history[-1]["action"] == "escalate"
    assert await world.service.escalate_overdue() == []
    assert not (await world.service.get(lamp_ticket)).overdue


async def test_unconfirmed_resolutions_close_after_the_rule_days():
    world = World(autoclose_days=7)
    ticket = (await world.service.create(ALICE, lamp())).report.ticket
    closed = await resolve_until_autoclosed(world, ticket)
    assert closed.status == "closed" and closed.history[-1]["actor"]["kind"] == "system"
