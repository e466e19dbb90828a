"""The console home: a staff member's to-do, each a count that links to the filtered list."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from bot.console.board import due_today_before
from domain.time import TZ as CHINA
from storage.dashboards import Dashboards


@dataclass(frozen=True)
class TodoItem:
    key: str
    title: str
    count: int
    href: str
    hint: str


async def todo_items(views: Dashboards, scope: dict[str, Any], now: datetime) -> list[TodoItem]:
    today = now.astimezone(CHINA).date()
    day_start = datetime.combine(today, time(0), tzinfo=CHINA)
    counts = await views.todo_counts(scope, day_start=day_start, day_end=day_start + timedelta(days=1),
                                     due_before=due_today_before(now))
    return [
        TodoItem("dispatch", "待派单", counts["dispatch"], "/console/reports?status=submitted", "居民新报的事，等待派给部门"),
        TodoItem("overdue", "已超时", counts["overdue"], "/console/reports?status=open&overdue=1", "超过办理时限仍未办结"),
        TodoItem("due_today", "今日到期", counts["due_today"], "/console/reports?due=today&sort=due", "今天之内要办结（含已超时）"),
        TodoItem("callbacks", "待回电", counts["callbacks"], "/console/callbacks?status=open", "居民请求人工回电"),
        TodoItem("bookings", "今日预约", counts["bookings"], f"/console/bookings?date={today.isoformat()}", "今天的服务预约人次"),
        TodoItem("redemptions", "待领取兑换", counts["redemptions"], "/console/points", "积分兑换等待到站领取核销"),
    ]
