"""Chinese date expressions -> the slots offered (JioNLP through nlu.time_extractor, no model)."""
from __future__ import annotations

from datetime import date, datetime

import pytest

from handlers.booking_times import birth_year as _birth_year
from bot.booking_times import wanted_from_text
from services.booking_times import day_label, rank_slots, slot_label
from storage.booking_catalog import CATALOG, TZ, planned_slots, service_doc

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=TZ)  # a Monday morning


def slots_of(code: str) -> list[dict]:
    entry = next(e for e in CATALOG if e["code"] == code)
    return planned_slots(service_doc("huafu-tianmian", entry), NOW.date(), 14)


def first_offer(code: str, text: str) -> str:
    wanted = wanted_from_text(text, NOW)
    assert wanted is not None, text
    return slot_label(rank_slots(slots_of(code), wanted)[0], NOW)


@pytest.mark.parametrize("code,text,expected", [
    ("elderly_meal", "明天中午", "明天 11月24日（周二）11:30-12:30 午餐"),
    ("elderly_meal", "明天晚上", "明天 11月24日（周二）17:30-18:30 晚餐"),
    ("elderly_meal", "后天", "后天 11月25日（周三）11:30-12:30 午餐"),
    ("health_check", "下周一上午", "11月30日（周一）08:00-09:00"),
    ("health_check", "明天上午十点", "明天 11月24日（周二）10:00-11:00"),
    ("volunteer", "周六", "11月28日（周六）09:00-11:00 社区环境清洁日"),
    ("volunteer", "这周日下午", "11月29日（周日）15:00-17:00 陪伴独居长者"),
    ("legal_aid", "下周三下午三点", "12月2日（周三）15:00-15:30"),
    ("rest_room", "今天晚上", "今天 11月23日（周一）20:00-22:00"),
    # no health check on Saturdays: the nearest weekday slots come first
    ("health_check", "周六", "11月27日（周五）10:00-11:00"),
])
def test_expression_picks_the_nearest_slot(code, text, expected):
    assert first_offer(code, text) == expected


def test_a_vague_span_offers_every_slot_inside_it_in_time_order():
    wanted = wanted_from_text("下周一上午", NOW)
    assert (wanted.start.hour, wanted.end.hour) == (7, 11)
    offered = rank_slots(slots_of("health_check"), wanted, limit=3)
    assert [f"{s['start']:%m-%d %H:%M}" for s in offered] == ["11-30 08:00", "11-30 09:00", "11-30 10:00"]


def test_without_a_wish_the_earliest_slots_come_first():
    offered = rank_slots(slots_of("elderly_meal"), None, limit=2)
    assert [slot_label(s, NOW) for s in offered] == ["今天 11月23日（周一）11:30-12:30 午餐",
                                                    "今天 11月23日（周一）17:30-18:30 晚餐"]


def test_text_without_a_time_gives_nothing():
    assert wanted_from_text("我想预约助餐", NOW) is None
    assert wanted_from_text("3号楼", NOW) is None


def test_day_labels():
    assert day_label(datetime(2026, 11, 23, 20, tzinfo=TZ), NOW) == "今天 11月23日（周一）"
    assert day_label(datetime(2026, 11, 25, 8, tzinfo=TZ), NOW) == "后天 11月25日（周三）"
    assert day_label(datetime(2026, 12, 6, 8, tzinfo=TZ), NOW) == "12月6日（周日）"


@pytest.mark.parametrize("text,year", [("1956", 1956), ("1956年", 1956), ("我是1948年生的", 1948),
                                       ("68", 1958), ("68岁", 1958), ("abc", None), ("1850", None), ("200", None)])
def test_birth_year_answers(text, year):
    assert _birth_year(text, 2026) == year


def test_working_plan_follows_weekdays():
    legal = slots_of("legal_aid")
    assert {s["start"].astimezone(TZ).weekday() for s in legal} == {2}
    assert len(legal) == 12  # six half-hours on two Wednesdays
    assert date(2026, 11, 25) in {s["start"].astimezone(TZ).date() for s in legal}
