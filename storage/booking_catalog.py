"""The demo service catalog of a community and its working plan (like Easy!Appointments).

Each service is one document in `booking_services`; its `schedule` says on which
weekdays which time slots open with how many places, and `planned_slots` turns that
plan into concrete slot documents for the days ahead. A rental service (康复辅具) has
`units` instead: one pool of places per kind of aid, with no times.
"""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any

from domain.time import TZ

SERVICE_CODES = ("elderly_meal", "health_check", "rehab_rental", "volunteer", "rest_room", "legal_aid", "venue")
WEEKDAYS = (0, 1, 2, 3, 4)
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
ELDERLY = {"min_age": 60, "disability_qualifies": True}


def _plan(days: tuple[int, ...], start: str, end: str, capacity: int, title: str | None = None) -> dict[str, Any]:
    return {"weekdays": list(days), "start": start, "end": end, "capacity": capacity, "title": title}


def _rules(window_days: int, min_notice: int, cancel_cutoff: int, offer: int = 30) -> dict[str, int]:
    """Minutes, except the window (days ahead a slot may be booked)."""
    return {"window_days": window_days, "min_notice_minutes": min_notice,
            "cancel_cutoff_minutes": cancel_cutoff, "offer_minutes": offer}


CATALOG: list[dict[str, Any]] = [
    {
        "code": "elderly_meal", "name": "老年助餐", "order": 1, "kind": "session",
        "description": "长者饭堂午餐、晚餐，两荤一素一汤，60岁以上老人每餐补贴后8元。",
        "location": "长者饭堂（社区党群服务中心一楼）",
        "eligibility": ELDERLY, "rules": _rules(7, 120, 120),
        "schedule": [_plan(EVERY_DAY, "11:30", "12:30", 30, "午餐"), _plan(EVERY_DAY, "17:30", "18:30", 20, "晚餐")],
    },
    {
        "code": "health_check", "name": "健康体检", "order": 2, "kind": "session",
        "description": "社区健康服务中心的免费基础体检：血压、血糖、心电图。体检前请空腹。",
        "location": "社区健康服务中心二楼",
        "eligibility": {}, "rules": _rules(14, 12 * 60, 12 * 60),
        "schedule": [_plan(WEEKDAYS, "08:00", "09:00", 5), _plan(WEEKDAYS, "09:00", "10:00", 5),
                     _plan(WEEKDAYS, "10:00", "11:00", 5)],
    },
    {
        "code": "rehab_rental", "name": "康复辅具租赁", "order": 3, "kind": "rental",
        "description": "轮椅、助行器、拐杖、护理床免费借用，最长30天，到社区服务站领取。",
        "location": "社区服务站（党群服务中心一楼）",
        "eligibility": ELDERLY, "rules": _rules(14, 12 * 60, 60), "loan_days": 30, "pickup_hours": ["09:00", "17:00"],
        "units": [{"code": "wheelchair", "name": "轮椅", "total": 4}, {"code": "walker", "name": "助行器", "total": 3},
                  {"code": "crutches", "name": "拐杖", "total": 6}, {"code": "care_bed", "name": "护理床", "total": 2}],
    },
    {
        "code": "volunteer", "name": "志愿活动", "order": 4, "kind": "session",
        "description": "报名社区志愿服务，参加后可获得积分。",
        "location": "社区党群服务中心门口集合",
        "eligibility": {"min_age": 16}, "rules": _rules(14, 60, 24 * 60),
        "schedule": [_plan((5,), "09:00", "11:00", 10, "社区环境清洁日"),
                     _plan((6,), "15:00", "17:00", 10, "陪伴独居长者"),
                     _plan((2,), "19:00", "20:30", 10, "夜间平安巡逻")],
    },
    {
        "code": "rest_room", "name": "骑手休息室", "order": 5, "kind": "session",
        "description": "给快递、外卖小哥的休息室：空调、热水、充电、微波炉。",
        "location": "田面城市驿站",
        "eligibility": {}, "rules": _rules(2, 10, 10),
        "schedule": [_plan(EVERY_DAY, "11:00", "13:00", 8), _plan(EVERY_DAY, "14:00", "16:00", 8),
                     _plan(EVERY_DAY, "20:00", "22:00", 8)],
    },
    {
        "code": "legal_aid", "name": "法律咨询", "order": 6, "kind": "session",
        "description": "律师进社区：婚姻家庭、劳动纠纷、房屋租赁等免费咨询，每人30分钟。",
        "location": "社区调解室",
        "eligibility": {}, "rules": _rules(14, 24 * 60, 12 * 60),
        "schedule": [_plan((2,), f"{h:02d}:{m:02d}", f"{h + (m + 30) // 60:02d}:{(m + 30) % 60:02d}", 1)
                     for h in (14, 15, 16) for m in (0, 30)],
    },
    {
        "code": "venue", "name": "活动室预约", "order": 7, "kind": "session",
        "description": "社区多功能活动室，可办兴趣小组、读书会、居民议事会，整间预约。",
        "location": "党群服务中心三楼多功能室",
        "eligibility": {"min_age": 18}, "rules": _rules(14, 24 * 60, 24 * 60),
        "schedule": [_plan(EVERY_DAY, "09:00", "11:00", 1), _plan(EVERY_DAY, "14:00", "16:00", 1),
                     _plan(EVERY_DAY, "19:00", "21:00", 1)],
    },
]
# Communities whose catalog the demo seeds (the default one gets everything).
DEMO_COMMUNITIES = {"huafu-tianmian": SERVICE_CODES, "huafu-xintian": ("elderly_meal", "health_check", "volunteer")}


def service_id(community: str, code: str) -> str:
    return f"{community}:{code}"


def service_doc(community: str, entry: dict[str, Any]) -> dict[str, Any]:
    """A catalog entry as the document stored for one community."""
    return {"_id": service_id(community, entry["code"]), "community": community, "active": True, **entry}


def _at(day: date, hhmm: str) -> datetime:
    hour, minute = (int(part) for part in hhmm.split(":"))
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def planned_slots(service: dict[str, Any], first_day: date, days: int) -> list[dict[str, Any]]:
    """The slot documents a session service's working plan opens on `days` days."""
    if service.get("kind") == "rental":
        return []
    slots = []
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        for plan in service.get("schedule", []):
            if day.weekday() not in plan["weekdays"]:
                continue
            slots.append(new_slot(service, _at(day, plan["start"]), _at(day, plan["end"]),
                                  plan["capacity"], plan.get("title")))
    return slots


def rental_pools(service: dict[str, Any]) -> list[dict[str, Any]]:
    """One slot document per kind of aid: its capacity is the number of units."""
    pools = []
    for unit in service.get("units", []):
        pool = new_slot(service, None, None, unit["total"], unit["name"])
        pool["unit"] = unit["code"]
        pools.append(pool)
    return pools


def new_slot(service: dict[str, Any], start: datetime | None, end: datetime | None, capacity: int,
             title: str | None) -> dict[str, Any]:
    """A slot document; `_id` is chosen by the repository."""
    return {
        "service_id": service["_id"], "service": service["code"], "community": service["community"],
        "kind": service.get("kind", "session"), "start": start, "end": end, "title": title, "unit": None,
        "capacity": int(capacity), "booked": 0, "wait_seq": 0, "status": "open",
    }
