"""StationService rules on the in-memory station repository (tests/fakes/stations.py)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services import events
from services.opening_hours import always_open, parse_hours, week_intervals
from services.stations import StationService
from storage.stations import point
from tests.fakes.services import Clock
from tests.fakes.stations import FakeCourierRegistry, FakeStationRepository

pytestmark = pytest.mark.unit

HERE = (22.5400, 114.0500)
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in China
MONDAY_20 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)  # Monday 20:00 in China


def station(sid, name, north_m, *, kind="energy", amenities=("water",), hours=None, community="c1",
            address="深南大道1号"):
    hours = hours or always_open()
    return {"_id": sid, "name": name, "kind": kind, "address": address,
            "location": point(HERE[0] + north_m / 111_320, HERE[1]), "amenities": list(amenities), "hours": hours,
            "open_week": week_intervals(hours), "phone": "", "community": community, "active": True, "note": "",
            "demo": False}


@pytest.fixture
async def world():
    repo, couriers, clock = FakeStationRepository(), FakeCourierRegistry(), Clock(MONDAY_10)
    await repo.upsert(station("day", "华富爱心驿站", 200, kind="centre", amenities=("water", "toilet"),
                              hours=parse_hours("周一至周五 09:00-18:00"), address="华富路5号"))
    await repo.upsert(station("all", "莲花能量栈", 1200, amenities=("water", "charging")))
    return StationService(repo, couriers, clock, bus=events.EventBus()), couriers, clock


async def test_nearest_open_stations_with_distance_and_direction(world):
    service, _, _ = world
    found = await service.nearby(*HERE, amenity="water")
    assert [h.station.id for h in found.hits] == ["day", "all"] and found.reason is None
    first = found.hits[0]
    assert first.direction == "北" and first.open_now and 150 < first.distance_m < 250
    assert str(first.closes) and first.walk_minutes == 3


async def test_a_closed_station_is_named_with_when_it_opens(world):
    service, _, clock = world
    clock.now = MONDAY_20
    found = await service.nearby(*HERE, amenity="toilet")
    assert found.hits == [] and found.reason == "none_open"
    assert found.closed_nearest.station.id == "day" and not found.closed_nearest.open_now
    assert found.closed_nearest.opens is not None


async def test_nothing_with_the_amenity_in_reach(world):
    service, _, _ = world
    assert (await service.nearby(*HERE, amenity="microwave")).reason == "none_with_amenity"
    assert (await service.nearby(*HERE, amenity="charging", radius_m=500)).reason == "none_with_amenity"
    assert [h.station.id for h in (await service.nearby(*HERE, amenity="charging")).hits] == ["all"]


async def test_kind_and_several_amenities_narrow_the_search(world):
    service, _, _ = world
    assert [h.station.id for h in (await service.nearby(*HERE, kind="energy")).hits] == ["all"]
    both = await service.nearby(*HERE, amenities=["water", "toilet"])
    assert [h.station.id for h in both.hits] == ["day"]


async def test_place_names_prefer_the_name_then_the_centre(world):
    service, _, _ = world
    assert (await service.place("我在莲花能量栈附近")).id == "all"
    assert (await service.place("华富路")).id == "day"
    assert await service.place("驿站") is None  # a generic word is no place
    assert (await service.community_anchor("c1")).id == "day"


async def test_a_couriers_valid_report_publishes_the_courier_event(world):
    service, couriers, _ = world
    seen: list[events.CourierReport] = []

    async def on_courier(event: events.CourierReport) -> None:
        seen.append(event)

    service.bus.subscribe(events.CourierReport, on_courier)
    try:
        report = events.ReportValid(ticket="R20261122-0001", resident_id="r1", community="c1", category="road")
        await service.on_report_valid(report)
        assert seen == []  # not a courier
        await couriers.register("r1", "c1", "美团")
        await service.on_report_valid(report)
        assert [(e.ref, e.resident_id) for e in seen] == [("R20261122-0001", "r1")]
    finally:
        service.bus.unsubscribe(events.CourierReport, on_courier)
