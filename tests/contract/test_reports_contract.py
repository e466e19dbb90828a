"""Contract of ReportRepository and RoutingRepository: the real ones and the fakes agree."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from pymongo.errors import DuplicateKeyError

from storage.reports import (
    CLOSED, DISPATCHED, DUPLICATE, IN_PROGRESS, RESOLVED, SUBMITTED, SYSTEM, Report, ReportRepository,
)
from storage.routing import CATEGORIES, DEFAULT_ROUTES, RoutingRepository
from tests.contract import repository
from tests.fakes.reports import FakeReportRepository, FakeRoutingRepository

pytestmark = pytest.mark.contract

NOW = datetime(2026, 11, 22, 2, 0, tzinfo=timezone.utc)  # 10:00 in China


repo = repository(ReportRepository, FakeReportRepository)
routing = repository(RoutingRepository, FakeRoutingRepository, indexes=False)


def ticket_doc(ticket: str, **fields) -> dict:
    doc = {
        "_id": ticket, "resident_id": "res-1", "channel": "rest", "community": "c1", "category": "streetlight",
        "department": "路灯", "level": "community", "location_text": "3栋门口", "location_key": "3栋门口",
        "description": "路灯不亮", "photos": [], "status": DISPATCHED,
        "history": [{"action": "submit", "status": SUBMITTED, "at": NOW, "actor": SYSTEM.as_doc()}],
        "created_at": NOW, "updated_at": NOW, "sla_hours": 48, "due_at": NOW + timedelta(hours=48),
        "overdue": False, "followers": [], "rating": None, "source": "chat",
    }
    doc.update(fields)
    return doc


def entry(action: str, status: str | None = None) -> dict:
    out = {"action": action, "at": NOW, "actor": SYSTEM.as_doc()}
    if status:
        out["status"] = status
    return out


async def test_ticket_numbers_count_per_china_day(repo):
    first = await repo.next_ticket(NOW)
    second = await repo.next_ticket(NOW)
    late = await repo.next_ticket(datetime(2026, 11, 22, 16, 30, tzinfo=timezone.utc))  # 00:30 on the 23rd
    assert (first, second) == ("R20261122-0001", "R20261122-0002")
    assert late == "R20261123-0001"


async def test_insert_then_get_round_trips_and_refuses_a_taken_number(repo):
    created = await repo.insert(ticket_doc("R20261122-0001"))
    assert isinstance(created, Report) and created.ticket == "R20261122-0001"
    got = await repo.get("R20261122-0001")
    assert got == created
    assert got.created_at == NOW and got.created_at.tzinfo is not None
    with pytest.raises(DuplicateKeyError):
        await repo.insert(ticket_doc("R20261122-0001"))
    assert await repo.get("R20261122-9999") is None


async def test_get_and_transition_hold_the_scope(repo):
    await repo.insert(ticket_doc("R20261122-0001", community="c1"))
    assert await repo.get("R20261122-0001", {"community": "c2"}) is None
    assert await repo.get("R20261122-0001", {"community": {"$in": ["c1", "c3"]}}) is not None
    assert await repo.transition("R20261122-0001", (DISPATCHED,), entry("start", IN_PROGRESS),
                                 {"status": IN_PROGRESS}, {"community": "c2"}) is None
    assert (await repo.get("R20261122-0001")).status == DISPATCHED


async def test_transition_applies_only_from_the_given_statuses(repo):
    await repo.insert(ticket_doc("R20261122-0001"))
    moved = await repo.transition("R20261122-0001", (DISPATCHED,), entry("start", IN_PROGRESS),
                                  {"status": IN_PROGRESS, "updated_at": NOW})
    assert moved.status == IN_PROGRESS and [h["action"] for h in moved.history] == ["submit", "start"]
    again = await repo.transition("R20261122-0001", (DISPATCHED,), entry("start", IN_PROGRESS),
                                  {"status": IN_PROGRESS})
    assert again is None
    assert len((await repo.get("R20261122-0001")).history) == 2


async def test_followers_are_added_once_and_never_the_reporter(repo):
    await repo.insert(ticket_doc("R20261122-0001", resident_id="res-1"))
    follower = {"resident_id": "res-2", "channel": "wechat", "at": NOW, "via": "R20261122-0002"}
    await repo.add_follower("R20261122-0001", follower, NOW)
    await repo.add_follower("R20261122-0001", follower, NOW)
    report = await repo.add_follower("R20261122-0001", {**follower, "resident_id": "res-1"}, NOW)
    assert [f["resident_id"] for f in report.followers] == ["res-2"]
    assert report.audience() == [{"resident_id": "res-1", "channel": "rest"},
                                 {"resident_id": "res-2", "channel": "wechat"}]
    assert [r.ticket for r in await repo.for_resident("res-2")] == ["R20261122-0001"]


async def test_rating_is_set_once_by_the_reporter(repo):
    await repo.insert(ticket_doc("R20261122-0001", status=RESOLVED))
    rating = {"stars": 5, "comment": None, "at": NOW}
    assert await repo.set_rating("R20261122-0001", "res-2", rating, NOW) is None
    rated = await repo.set_rating("R20261122-0001", "res-1", rating, NOW)
    assert rated.rating["stars"] == 5
    assert await repo.set_rating("R20261122-0001", "res-1", {**rating, "stars": 1}, NOW) is None


async def test_claim_flag_wins_once(repo):
    await repo.insert(ticket_doc("R20261122-0001"))
    assert await repo.claim_flag("R20261122-0001", "valid_event_at", NOW) is True
    assert await repo.claim_flag("R20261122-0001", "valid_event_at", NOW) is False


async def test_escalation_takes_the_most_overdue_community_ticket_first(repo):
    await repo.insert(ticket_doc("R20261122-0001", due_at=NOW - timedelta(hours=1)))
    await repo.insert(ticket_doc("R20261122-0002", due_at=NOW - timedelta(hours=5)))
    await repo.insert(ticket_doc("R20261122-0003", due_at=NOW + timedelta(hours=5)))
    await repo.insert(ticket_doc("R20261122-0004", due_at=NOW - timedelta(hours=9), status=RESOLVED))
    await repo.insert(ticket_doc("R20261122-0005", due_at=NOW - timedelta(hours=9), level="street"))
    first = await repo.escalate_next(NOW, entry("escalate"))
    second = await repo.escalate_next(NOW, entry("escalate"))
    assert (first.ticket, second.ticket) == ("R20261122-0002", "R20261122-0001")
    assert first.level == "street" and first.overdue is True
    assert await repo.escalate_next(NOW, entry("escalate")) is None
    assert await repo.mark_overdue(NOW) == 1  # the one already at the street level
    assert (await repo.get("R20261122-0005")).overdue is True
    assert (await repo.get("R20261122-0003")).overdue is False


async def test_open_duplicates_by_distance_or_location_text_in_one_community(repo):
    point = {"type": "Point", "coordinates": [113.9300, 22.5300]}
    await repo.insert(ticket_doc("R20261122-0001", location=point, location_key="a"))
    await repo.insert(ticket_doc("R20261122-0002", location_key="3栋门口", created_at=NOW + timedelta(minutes=1)))
    await repo.insert(ticket_doc("R20261122-0003", location_key="3栋门口", community="c2"))
    await repo.insert(ticket_doc("R20261122-0004", location_key="3栋门口", status=CLOSED))
    args = dict(category="streetlight", community="c1", since=NOW - timedelta(hours=72), radius_m=50)
    near = {"type": "Point", "coordinates": [113.9302, 22.5301]}  # about 23 m away
    far = {"type": "Point", "coordinates": [113.9400, 22.5300]}  # about 1 km away
    assert (await repo.find_open_duplicate(point=near, location_key="", **args)).ticket == "R20261122-0001"
    assert await repo.find_open_duplicate(point=far, location_key="", **args) is None
    assert (await repo.find_open_duplicate(point=far, location_key="3栋门口", **args)).ticket == "R20261122-0002"
    assert await repo.find_open_duplicate(point=None, location_key="3栋门口",
                                          **{**args, "category": "road"}) is None
    assert await repo.find_open_duplicate(point=None, location_key="3栋门口",
                                          **{**args, "since": NOW + timedelta(hours=1)}) is None


async def test_for_resident_lists_newest_first_with_a_status_filter(repo):
    for n, status in enumerate((DISPATCHED, CLOSED, RESOLVED), start=1):
        await repo.insert(ticket_doc(f"R20261122-000{n}", status=status, created_at=NOW + timedelta(minutes=n)))
    await repo.insert(ticket_doc("R20261122-0009", resident_id="someone-else"))
    assert [r.ticket for r in await repo.for_resident("res-1")] == ["R20261122-0003", "R20261122-0002",
                                                                   "R20261122-0001"]
    active = await repo.for_resident("res-1", (DISPATCHED, RESOLVED))
    assert [r.ticket for r in active] == ["R20261122-0003", "R20261122-0001"]
    assert len(await repo.for_resident("res-1", limit=1)) == 1


async def test_resolved_before_a_cutoff(repo):
    await repo.insert(ticket_doc("R20261122-0001", status=RESOLVED, resolved_at=NOW - timedelta(days=8)))
    await repo.insert(ticket_doc("R20261122-0002", status=RESOLVED, resolved_at=NOW - timedelta(days=1)))
    await repo.insert(ticket_doc("R20261122-0003", status=CLOSED, resolved_at=NOW - timedelta(days=9)))
    assert await repo.resolved_before(NOW - timedelta(days=7)) == ["R20261122-0001"]


async def test_board_filters_counts_pages_and_keeps_the_scope(repo):
    await repo.insert(ticket_doc("R20261122-0001", created_at=NOW, overdue=True))
    await repo.insert(ticket_doc("R20261122-0002", created_at=NOW + timedelta(minutes=1), category="road"))
    await repo.insert(ticket_doc("R20261122-0003", created_at=NOW + timedelta(minutes=2), status=CLOSED))
    await repo.insert(ticket_doc("R20261122-0004", community="c2"))
    rows, total = await repo.board({"community": "c1"})
    assert total == 3 and [r.ticket for r in rows] == ["R20261122-0003", "R20261122-0002", "R20261122-0001"]
    rows, total = await repo.board({"community": "c1"}, open_only=True, limit=1, skip=1)
    assert total == 2 and [r.ticket for r in rows] == ["R20261122-0001"]
    assert (await repo.board({"community": "c1"}, category="road"))[1] == 1
    assert (await repo.board({"community": "c1"}, overdue=True))[1] == 1
    assert (await repo.board({"community": "c1"}, overdue=False))[1] == 2
    assert (await repo.board({"community": "c1"}, status=CLOSED))[1] == 1
    extra = {"community": "c2"}  # a condition on the scope's own field cannot widen it
    assert (await repo.board({"community": "c1"}, extra=extra))[1] == 0
    rows, _ = await repo.board({}, sort=[("created_at", 1), ("_id", 1)])
    assert [r.ticket for r in rows][:2] == ["R20261122-0001", "R20261122-0004"]


async def test_stats_per_category_with_median_hours(repo):
    await repo.insert(ticket_doc("R20261122-0001", resolved_at=NOW + timedelta(hours=2)))
    await repo.insert(ticket_doc("R20261122-0002", resolved_at=NOW + timedelta(hours=4)))
    await repo.insert(ticket_doc("R20261122-0003"))
    await repo.insert(ticket_doc("R20261122-0004", category="road"))
    await repo.insert(ticket_doc("R20261122-0005", category="road", community="c2"))
    stats = await repo.stats({"community": "c1"})
    assert [(s.category, s.count, s.resolved, s.median_hours) for s in stats] == [
        ("streetlight", 3, 2, 3.0), ("road", 1, 0, None)]
    assert await repo.stats({"community": "c1"}, since=NOW + timedelta(days=1)) == []


async def test_duplicate_status_is_stored_with_its_original(repo):
    await repo.insert(ticket_doc("R20261122-0002", status=DUPLICATE, duplicate_of="R20261122-0001"))
    assert (await repo.get("R20261122-0002")).duplicate_of == "R20261122-0001"


async def test_routing_defaults_edits_and_refusals(routing):
    assert await routing.get("gas") == DEFAULT_ROUTES["gas"]
    assert await routing.get("no-such-category") == DEFAULT_ROUTES["other"]
    edited = await routing.set("gas", "燃气公司", 2)
    assert edited.sla_hours == 2 and await routing.get("gas") == edited
    table = await routing.all()
    assert [r.category for r in table] == list(CATEGORIES) and edited in table
    with pytest.raises(ValueError):
        await routing.set("nope", "x", 1)
    with pytest.raises(ValueError):
        await routing.set("gas", "x", 0)
