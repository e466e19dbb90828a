"""Stations against the real MongoDB-compatible server: the demo data of 华富街道, nearest
open stations by $geoNear, opening hours (incl. overnight and 24h), the CSV import."""
from __future__ import annotations

from datetime import datetime

import pytest
import pytest_asyncio

from services.events import EventBus
from services.opening_hours import (
    TZ, HoursError, always_open, format_hours, is_open, minute_of_week, next_opening, open_until, parse_hours,
    week_intervals,
)
from services.station_import import import_rows, read_csv, seed_demo_stations
from services.stations import StationService, direction, haversine_m
from storage.seed import COMMUNITIES
from storage.stations import AMENITIES, StationRepository

# 华富社区党群服务中心 (demo data) and a few moments in Asia/Shanghai.
HUAFU = (22.5486, 114.0760)
WED_10 = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)  # a Wednesday morning
WED_0330 = datetime(2026, 11, 25, 3, 30, tzinfo=TZ)
TUE_0100 = datetime(2026, 11, 24, 1, 0, tzinfo=TZ)  # Monday night, after midnight
MON_12 = datetime(2026, 11, 23, 12, 0, tzinfo=TZ)


async def seed_communities(db) -> None:
    await db.communities.insert_many([{"_id": cid, "name": name, "street": "huafu"} for cid, name in COMMUNITIES])


@pytest_asyncio.fixture
async def stations(db) -> StationService:
    await seed_communities(db)
    repo = StationRepository(db)
    await repo.ensure_indexes()
    result = await seed_demo_stations(db)
    assert result.errors == [] and result.created == 20
    return StationService(repo, clock=lambda: WED_10, bus=EventBus())


def at(service: StationService, moment: datetime) -> StationService:
    service.clock = lambda: moment
    return service


# -- opening hours ----------------------------------------------------------------------

def test_hours_are_parsed_from_the_way_staff_write_them():
    hours = parse_hours("周一至周五 09:00-12:00、14:00-18:00；周六、周日 09:00-17:00")
    assert hours["mon"] == [["09:00", "12:00"], ["14:00", "18:00"]]
    assert hours["sun"] == [["09:00", "17:00"]]
    assert parse_hours("24小时") == always_open() == parse_hours("全天")
    weekdays = ("mon", "tue", "wed", "thu", "fri")
    assert parse_hours("mon-fri 8:00-17:30; sat closed") == {d: [["08:00", "17:30"]] for d in weekdays}
    assert "sun" not in parse_hours("每天 08:00-20:00；周日 休息")
    assert parse_hours("工作日 8点-18点")["fri"] == [["08:00", "18:00"]]
    text = format_hours(hours)
    assert text == "周一至周五 09:00-12:00、14:00-18:00；周六、周日 09:00-17:00"
    assert parse_hours(text) == hours  # what the console shows can be typed back


@pytest.mark.parametrize("bad", ["随便开", "周一 25:00-26:00", "每天 09:00-09:00", "", "周三 09:60-10:00"])
def test_unreadable_hours_are_refused_with_a_chinese_reason(bad):
    with pytest.raises(HoursError) as info:
        parse_hours(bad)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in str(info.value))


def test_open_now_lunch_break_overnight_and_around_the_clock():
    centre = week_intervals(parse_hours("周一至周五 09:00-12:00、14:00-18:00"))
    assert is_open(centre, WED_10) and not is_open(centre, WED_10.replace(hour=13))
    assert str(open_until(centre, WED_10)) == "今天12:00"
    assert str(next_opening(centre, WED_10.replace(hour=13))) == "今天14:00"
    assert str(next_opening(centre, datetime(2026, 11, 27, 19, 0, tzinfo=TZ))) == "周一09:00"  # Friday evening
    night = week_intervals(parse_hours("每天 18:00-03:00"))
    assert is_open(night, TUE_0100) and not is_open(night, MON_12)
    assert str(open_until(night, TUE_0100)) == "今天03:00"
    assert str(open_until(night, datetime(2026, 11, 29, 23, 0, tzinfo=TZ))) == "明天03:00"  # Sunday night
    assert is_open(night, datetime(2026, 11, 23, 2, 0, tzinfo=TZ))  # Monday 02:00: Sunday's night runs on
    always = week_intervals(always_open())
    assert always == [{"s": 0, "e": 7 * 1440}]
    assert is_open(always, WED_0330) and open_until(always, WED_0330) is None
    assert minute_of_week(datetime(2026, 11, 23, 0, 0, tzinfo=TZ)) == 0


# -- nearest open stations ----------------------------------------------------------------

async def test_demo_set_is_realistic_and_indexed(db, stations):
    assert await db.stations.count_documents({"kind": "centre"}) == 8
    assert await db.stations.count_documents({"kind": "energy"}) == 12
    assert len(await db.stations.distinct("community")) == 8
    assert await db.stations.count_documents({"demo": True}) == 20
    for doc in await db.stations.find({}).to_list(None):
        lng, lat = doc["location"]["coordinates"]
        assert haversine_m(lat, lng, *HUAFU) < 2500  # all around 华富街道
        assert set(doc["amenities"]) <= set(AMENITIES)
    indexes = await db.stations.index_information()
    assert indexes["location_2dsphere"]["key"] == [("location", "2dsphere")]
    again = await seed_demo_stations(db)  # idempotent, never overwrites
    assert again.created == 0 and await db.stations.count_documents({}) == 20


async def test_three_nearest_open_with_the_amenity_match_a_brute_force_check(db, stations):
    found = await stations.nearby(*HUAFU, amenity="charging")
    assert len(found.hits) == 3 and found.reason is None
    docs = await db.stations.find({"amenities": "charging"}).to_list(None)
    expected = sorted(
        (haversine_m(HUAFU[0], HUAFU[1], d["location"]["coordinates"][1], d["location"]["coordinates"][0]), d["_id"])
        for d in docs if is_open(d["open_week"], WED_10)
    )[:3]
    assert [h.station.id for h in found.hits] == [sid for _, sid in expected]
    for hit, (distance, _) in zip(found.hits, expected):
        assert hit.open_now and "charging" in hit.station.amenities
        assert abs(hit.distance_m - distance) < 1.0
        assert hit.walk_minutes >= 1 and hit.walk_text.startswith(("往", "就在"))
    distances = [h.distance_m for h in found.hits]
    assert distances == sorted(distances)
    assert found.hits[0].station.name == "华富社区党群服务中心" and found.hits[0].walk_text == "就在附近"


async def test_a_closed_station_is_left_out_until_it_opens(stations):
    # Wednesday 13:00: lunch break at the centres; the 24h booths and the canteen remain.
    found = await at(stations, WED_10.replace(hour=13)).nearby(*HUAFU, amenity="charging")
    assert found.hits and all(h.station.kind == "energy" for h in found.hits)
    # After midnight the night snack bar (18:00-03:00) has a microwave; the centres do not open.
    found = await at(stations, TUE_0100).nearby(*HUAFU, amenity="microwave")
    names = [h.station.name for h in found.hits]
    assert names[0] == "华富社区夜宵店能量栈" and "华富社区党群服务中心" not in names
    assert str(found.hits[0].closes) == "今天03:00"


async def test_none_open_names_the_nearest_and_when_it_opens(stations):
    found = await at(stations, WED_0330).nearby(*HUAFU, amenity="toilet")
    assert found.hits == [] and found.reason == "none_open"
    closed = found.closed_nearest
    assert closed is not None and not closed.open_now and "toilet" in closed.station.amenities
    assert closed.station.name == "华富社区党群服务中心"
    assert str(closed.opens) == "今天09:00" and closed.hours_text == "今天09:00开门"


async def test_none_with_the_amenity_in_reach(stations):
    far_away = (22.6000, 114.2000)  # Longgang, ~15 km from 华富街道
    found = await stations.nearby(*far_away, amenity="raincoat")
    assert found.hits == [] and found.reason == "none_with_amenity" and found.closed_nearest is None
    # A wider radius reaches them.
    assert (await stations.nearby(*far_away, amenity="raincoat", radius_m=20000)).hits


async def test_filters_kind_several_amenities_and_inactive(db, stations):
    found = await stations.nearby(*HUAFU, amenities=["water", "raincoat"], kind="energy", limit=10)
    assert found.hits and all({"water", "raincoat"} <= set(h.station.amenities) for h in found.hits)
    assert all(h.station.kind == "energy" for h in found.hits)
    first = found.hits[0].station.id
    await db.stations.update_one({"_id": first}, {"$set": {"active": False}})
    again = await stations.nearby(*HUAFU, amenities=["water", "raincoat"], kind="energy", limit=10)
    assert first not in [h.station.id for h in again.hits]


async def test_place_names_match_station_names_and_addresses(stations):
    assert (await stations.place("华富路")).address.startswith("福田区华富街道华富路")
    assert (await stations.place("我在莲花一村附近")).name == "莲花一村社区党群服务中心"
    assert (await stations.place("田面社区")).name == "田面社区党群服务中心"
    assert await stations.place("驿站") is None  # every station is one: not a place
    assert await stations.place("深南大道.*") is None  # regex characters are literal


def test_direction_and_distance_words():
    assert direction(22.54, 114.07, 22.55, 114.07) == "北"
    assert direction(22.54, 114.07, 22.53, 114.08) == "东南"
    assert 1100 < haversine_m(22.54, 114.07, 22.55, 114.07) < 1120


# -- CSV import -----------------------------------------------------------------------------

GOOD_AND_BAD = """编号,名称,类型,地址,纬度,经度,设施,开放时间,电话,社区,备注
t-1,测试能量栈一,能量栈,华富路1号,22.5480,114.0770,充电、饮水,24小时,0755-0000-0001,华富社区,
t-2,测试能量栈二,能量栈,华富路2号,north,114.0770,饮水,24小时,,华富社区,
t-3,测试能量栈三,飞船,华富路3号,22.5480,114.0770,饮水,24小时,,华富社区,
t-4,测试能量栈四,能量栈,华富路4号,22.5480,114.0770,按摩椅,24小时,,华富社区,
t-5,测试能量栈五,能量栈,华富路5号,22.5480,114.0770,饮水,有空就开,,华富社区,
t-6,测试能量栈六,能量栈,华富路6号,22.5480,114.0770,饮水,24小时,,火星社区,
,测试能量栈七,党群服务中心,华富路7号,22.5490,114.0780,"饮水,歇脚","周一至周五 09:00-12:00,14:00-18:00",,huafu-huafu,
t-1,测试能量栈一（重复）,能量栈,华富路1号,22.5480,114.0770,饮水,24小时,,华富社区,

t-9,测试能量栈九,能量栈,华富路9号,95,114.0770,饮水,24小时,,华富社区,
t-10,,能量栈,华富路10号,22.5480,114.0770,饮水,24小时,,华富社区,
"""


async def test_csv_import_reports_bad_rows_by_number_and_keeps_the_good(db):
    await seed_communities(db)
    from services.station_import import community_ids

    repo = StationRepository(db)
    await repo.ensure_indexes()
    rows = read_csv(GOOD_AND_BAD.encode("utf-8-sig"))
    ticks: list[int] = []
    result = await import_rows(repo, rows, await community_ids(db), progress=ticks.append)
    assert result.created == 2 and result.updated == 0
    errors = {e.row: e.message for e in result.errors}
    assert set(errors) == {3, 4, 5, 6, 7, 9, 11, 12}  # row 10 is blank, rows 2 and 8 are good
    assert "纬度" in errors[3] and "类型" in errors[4] and "按摩椅" in errors[5] and "开放时间" in errors[6]
    assert "火星社区" in errors[7] and "第 2 行" in errors[9] and "超出范围" in errors[11] and "缺少：名称" in errors[12]
    assert len(ticks) == 10  # the progress bar moved once per non-blank row
    one = await db.stations.find_one({"_id": "t-1"})
    assert one["name"] == "测试能量栈一" and one["amenities"] == ["charging", "water"]
    assert one["open_week"] == [{"s": 0, "e": 10080}] and one["community"] == "huafu-huafu"
    seven = await db.stations.find_one({"name": "测试能量栈七"})
    assert seven["kind"] == "centre" and seven["hours"]["mon"] == [["09:00", "12:00"], ["14:00", "18:00"]]
    # Importing again updates the same stations (by code, else community + name): no duplicates.
    result = await import_rows(repo, rows, await community_ids(db))
    assert result.created == 0 and result.updated == 2
    assert await db.stations.count_documents({}) == 2


async def test_csv_from_excel_in_gb18030_and_a_bad_header(db):
    await seed_communities(db)
    from services.station_import import community_ids

    data = "名称,类型,地址,纬度,经度,设施,开放时间,社区\n岗亭能量栈,能量栈,莲花路,22.55,114.066,雨衣,24小时,莲花一村\n"
    rows = read_csv(data.encode("gb18030"))
    result = await import_rows(StationRepository(db), rows, await community_ids(db))
    assert result.created == 1 and not result.errors
    assert (await db.stations.find_one({}))["community"] == "huafu-lianhua1"
    with pytest.raises(ValueError, match="缺少列"):
        read_csv("名称,地址\n甲,乙\n".encode())


def test_import_command_prints_row_errors_and_exit_status(settings, tmp_path, monkeypatch, capsys):
    from pymongo import MongoClient

    from scripts.import_stations import main

    client = MongoClient(settings.mongodb_uri)
    try:
        client[settings.mongodb_db].communities.insert_many(
            [{"_id": cid, "name": name, "street": "huafu"} for cid, name in COMMUNITIES]
        )
        monkeypatch.setenv("MONGODB_URI", settings.mongodb_uri)
        monkeypatch.setenv("MONGODB_DB", settings.mongodb_db)
        path = tmp_path / "stations.csv"
        path.write_text(GOOD_AND_BAD, encoding="utf-8")
        assert main([str(path), "--dry-run"]) == 1
        assert client[settings.mongodb_db].stations.count_documents({}) == 0  # a dry run writes nothing
        assert main([str(path)]) == 1
        out = capsys.readouterr()
        assert "第 3 行：纬度“north”不是数字" in out.err and "导入驿站" in out.err  # tqdm's bar on stderr
        assert "已导入 2 个站点（新增 2，更新 0），出错 8 行" in out.out
        assert client[settings.mongodb_db].stations.count_documents({}) == 2
        demo = main([str(__import__("services.station_import", fromlist=["DEMO_CSV"]).DEMO_CSV)])
        assert demo == 0 and client[settings.mongodb_db].stations.count_documents({}) == 22
        assert main([str(tmp_path / "missing.csv")]) == 2
    finally:
        client.drop_database(settings.mongodb_db)
        client.close()
