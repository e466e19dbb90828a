"""The console home: a staff member's to-do, each a count that links to the filtered list."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from bot.console.board import due_today_before
from bot.console.common import CHINA
from storage.callbacks import OPEN as CALLBACK_OPEN
from storage.reports import OPEN_STATUSES
from storage.shop import RESERVED


@dataclass(frozen=True)
class TodoItem:
    key: str
    title: str
    count: int
    href: str
    hint: str


async def todo_items(db: Any, scope: dict[str, Any], now: datetime) -> list[TodoItem]:
    open_q = {**scope, "status": {"$in": list(OPEN_STATUSES)}}
    today = now.astimezone(CHINA).date()
    day_start = datetime.combine(today, time(0), tzinfo=CHINA)
    day_end = day_start + timedelta(days=1)
    counts = {
        "dispatch": await db["reports"].count_documents({**scope, "status": "submitted"}),
        "overdue": await db["reports"].count_documents({**open_q, "overdue": True}),
        "due_today": await db["reports"].count_documents({**open_q, "due_at": {"$lt": due_today_before(now)}}),
        "callbacks": await db["callbacks"].count_documents({**scope, "status": CALLBACK_OPEN}),
        "bookings": await db["bookings"].count_documents(
            {**scope, "status": "booked", "kind": {"$ne": "rental"}, "start": {"$gte": day_start, "$lt": day_end}}),
        "redemptions": await db["shop_reservations"].count_documents({**scope, "state": RESERVED}),
    }
    return [
        TodoItem("dispatch", "待派单", counts["dispatch"], "/console/reports?status=submitted", "居民新报的事，等待派给部门"),
        TodoItem("overdue", "已超时", counts["overdue"], "/console/reports?status=open&overdue=1", "超过办理时限仍未办结"),
        TodoItem("due_today", "今日到期", counts["due_today"], "/console/reports?due=today&sort=due", "今天之内要办结（含已超时）"),
        TodoItem("callbacks", "待回电", counts["callbacks"], "/console/callbacks?status=open", "居民请求人工回电"),
        TodoItem("bookings", "今日预约", counts["bookings"], f"/console/bookings?date={today.isoformat()}", "今天的服务预约人次"),
        TodoItem("redemptions", "待领取兑换", counts["redemptions"], "/console/points", "积分兑换等待到站领取核销"),
    ]
