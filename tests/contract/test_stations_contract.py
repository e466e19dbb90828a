"""Contract of StationRepository and CourierRegistry: the real ones and the fakes agree."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from services.opening_hours import always_open, open_now_filter, parse_hours, week_intervals
from storage.scope import OutOfScope
from storage.stations import CourierRegistry, StationRepository, point
from tests.contract import repository
from tests.fakes.stations import FakeCourierRegistry, FakeStationRepository

pytestmark = pytest.mark.contract

HERE = (22.5400, 114.0500)  # latitude, longitude
MONDAY_10 = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)  # Monday 10:00 in China
MONDAY_20 = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)  # Monday 20:00 in China


repo = repository(StationRepository, FakeStationRepository)
couriers = repository(CourierRegistry, FakeCourierRegistry)


def station(sid: str, name: str, north_m: float, *, community: str = "c1", kind: str = "energy",
            amenities=("water",), hours=None, active: bool = True, address: str = "深南大道1号") -> dict:
    hours = hours or always_open()
    lat = HERE[0] + north_m / 111_320
    return {"_id": sid, "name": name, "kind": kind, "address": address, "location": point(lat, HERE[1]),
            "amenities": list(amenities), "hours": hours, "open_week": week_intervals(hours), "phone": "",
            "community": community, "active": active, "note": "", "demo": False}


async def test_upsert_inserts_then_replaces_fields(repo):
    assert await repo.upsert(station("s1", "一号站", 100)) is True
    assert await repo.upsert(station("s1", "一号站", 100, amenities=("water", "toilet"))) is False
    got = await repo.get("s1")
    assert got.amenities == ["water", "toilet"] and got.updated_at is not None
    assert await repo.count() == 1
    assert await repo.id_for("c1", "一号站") == "s1" and await repo.id_for("c1", "无") is None


async def test_upsert_doc_returns_before_and_after(repo):
    before, after = await repo.upsert_doc(station("s1", "一号站", 100))
    assert before is None and after["name"] == "一号站" and "created_at" in after
    before, after = await repo.upsert_doc(station("s1", "一号站改", 100))
    assert before["name"] == "一号站" and after["name"] == "一号站改"
    before, after = await repo.upsert_doc(station("s1", "又改", 100), only_insert=True)
    assert before["name"] == after["name"] == "一号站改"


async def test_scoped_upserts_never_touch_or_move_other_communities(repo):
    await repo.upsert(station("s1", "一号站", 100, community="c1"))
    with pytest.raises(OutOfScope):
        await repo.upsert(station("s1", "一号站", 100, community="c1"), scope={"community": "c2"})
    with pytest.raises(OutOfScope):
        await repo.upsert(station("s1", "一号站", 100, community="c2"), scope={"community": "c1"})
    assert (await repo.get("s1")).community == "c1"
    assert await repo.upsert(station("s2", "二号站", 100, community="c2"), scope={"community": "c2"}) is True
    with pytest.raises(OutOfScope):  # the same name in the same community under another id
        await repo.upsert(station("s3", "二号站", 200, community="c2"), scope={"community": "c2"})
    assert await repo.get("s2", {"community": "c1"}) is None
    assert (await repo.get_doc("s2", {"community": {"$in": ["c2"]}}))["name"] == "二号站"


async def test_nearest_first_within_the_radius_with_filters(repo):
    await repo.upsert(station("far", "远站", 2500))
    await repo.upsert(station("near", "近站", 200, amenities=("water", "charging")))
    await repo.upsert(station("mid", "中站", 900, kind="centre"))
    await repo.upsert(station("off", "停用站", 50, active=False))
    await repo.upsert(station("gone", "太远站", 9000))
    hits = await repo.nearest(*HERE, max_distance_m=3000, limit=5)
    assert [s.id for s in hits] == ["near", "mid", "far"]
    assert 150 < hits[0].distance_m < 250 and hits[0].distance_m < hits[1].distance_m
    assert [s.id for s in await repo.nearest(*HERE, max_distance_m=3000, limit=1)] == ["near"]
    assert [s.id for s in await repo.nearest(*HERE, query={"kind": "centre"}, max_distance_m=3000)] == ["mid"]
    both = {"amenities": {"$all": ["charging", "water"]}}
    assert [s.id for s in await repo.nearest(*HERE, query=both, max_distance_m=3000)] == ["near"]
    assert [s.id for s in await repo.nearest(*HERE, limit=10)][-1] == "gone"


async def test_nearest_open_now_uses_the_week_intervals(repo):
    await repo.upsert(station("day", "白天站", 100, hours=parse_hours("周一至周五 09:00-18:00")))
    await repo.upsert(station("all", "全天站", 800))
    open_at_10 = await repo.nearest(*HERE, query=open_now_filter(MONDAY_10), max_distance_m=3000)
    open_at_20 = await repo.nearest(*HERE, query=open_now_filter(MONDAY_20), max_distance_m=3000)
    assert [s.id for s in open_at_10] == ["day", "all"]
    assert [s.id for s in open_at_20] == ["all"]


async def test_place_names_anchor_and_listing(repo):
    await repo.upsert(station("b", "华富爱心驿站", 100, kind="centre", address="华富路5号"))
    await repo.upsert(station("a", "莲花能量栈", 200, address="华富路8号"))
    await repo.upsert(station("z", "停用华富站", 300, active=False))
    await repo.upsert(station("c", "别处站", 300, community="c2"))
    assert sorted(s.id for s in await repo.match_place("华富")) == ["a", "b"]
    assert [s.id for s in await repo.match_place("莲花")] == ["a"]
    assert (await repo.community_anchor("c1")).id == "b"
    assert (await repo.community_anchor("c2")).id == "c"
    assert await repo.community_anchor("c9") is None
    assert [s.id for s in await repo.list({})] == ["b", "z", "a", "c"]  # community, kind, name (code points)
    assert [s.id for s in await repo.list({"community": "c2"})] == ["c"]
    assert [s.id for s in await repo.list({}, community="c1", limit=2)] == ["b", "z"]


async def test_update_within_scope(repo):
    await repo.upsert(station("s1", "一号站", 100))
    assert await repo.update("s1", {"community": "c2"}, {"note": "x"}) is None
    after = await repo.update("s1", {"community": "c1"}, {"note": "周末关闭", "active": False})
    assert after["note"] == "周末关闭" and after["active"] is False
    assert await repo.nearest(*HERE, max_distance_m=3000) == []


async def test_couriers_register_once_and_unregister(couriers):
    first = await couriers.register("r1", "c1", "顺丰速运有限公司深圳分公司快递员小组")
    assert first["company"] == "顺丰速运有限公司深圳分公司快递员小组"[:20] and first["active"] is True
    again = await couriers.register("r1", "c1", "美团")
    assert again["since"] == first["since"] and again["company"] == "美团"
    assert await couriers.is_courier("r1") and not await couriers.is_courier(None)
    assert await couriers.unregister("r1") is True
    assert await couriers.unregister("r1") is False
    assert await couriers.get("r1") is None and not await couriers.is_courier("r1")
