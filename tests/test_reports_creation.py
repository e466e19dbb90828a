"""ReportService rules against the real MongoDB-compatible server and Redis, with a
controlled clock (tests/reports_helpers.py): creating a ticket (routing, automatic dispatch,
numbering), refusing invalid reports, finding ticket numbers in text and the indexes."""
from __future__ import annotations

import asyncio
import re
from datetime import datetime, timedelta, timezone

import pytest

from services.report_rules import InvalidReport, NewReport
from storage import mongo
from storage.reports import find_ticket
from storage.routing import DEFAULT_ROUTES, RoutingRepository
from tests.reports_helpers import HUAFU, T0, make_service, streetlight, world  # noqa: F401  (fixture)


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
