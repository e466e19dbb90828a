"""ReportService rules against the real MongoDB-compatible server and Redis, with a
controlled clock (tests/reports_helpers.py): a report of the same problem nearby follows
the open ticket instead of opening another, also when many arrive at once."""
from __future__ import annotations

import asyncio

import pytest

from services.report_rules import NewReport, Reporter
from storage import mongo
from storage.residents import ResidentRepository
from tests.fakes.services import Clock
from tests.reports_helpers import (  # noqa: F401  (fixture)
    FAR, NEAR, STAFF, T0, make_service, make_world, streetlight, world,
)


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
    world = await make_world(db, dup_radius_m=2000, dup_window_hours=1)
    a, b = await world.reporter("rest:a"), await world.reporter("rest:b")
    first = await world.service.create(a, streetlight())
    far = await world.service.create(b, streetlight(where=FAR, text="别处"))
    assert far.duplicate and far.report.ticket == first.own_ticket  # 1.1 km < 2 km
    world.clock.advance(hours=2)
    later = await world.service.create(b, streetlight(where=FAR, text="别处"))
    assert not later.duplicate


# -- duplicates under concurrency (issue 13, L5) --------------------------------------------


async def test_twelve_concurrent_reports_at_one_place_make_one_original(db, redis):
    """Two workers (two services, one Redis lock) and twelve residents reporting at once."""
    from storage.locks import redis_serializer

    await mongo.ensure_indexes(db, conversation_retention_days=30)
    clock = Clock(T0)
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
