"""The ticket board's filters, search and sort: what the form's fields mean as a MongoDB query
(`BoardFilters`, shared by the board page and its CSV / Excel export).

Words are matched literally (regex-escaped, never an operator) against the ticket number,
the description and the place; several words must all match.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Mapping

from pymongo import ASCENDING, DESCENDING

from domain.time import TZ as CHINA
from storage.reports import STATUSES
from storage.routing import CATEGORIES

BOARD_SORTS: dict[str, tuple[str, list[tuple[str, int]]]] = {
    "new": ("最新提交", [("created_at", DESCENDING)]),
    "old": ("最早提交", [("created_at", ASCENDING)]),
    "due": ("办理时限最近", [("due_at", ASCENDING), ("created_at", ASCENDING)]),
    "updated": ("最近更新", [("updated_at", DESCENDING)]),
    "category": ("按类别", [("category", ASCENDING), ("created_at", DESCENDING)]),
}


def board_filter(words: str, due_before: datetime | None = None) -> dict[str, Any]:
    clauses: list[dict[str, Any]] = []
    for word in words.split()[:5]:
        pattern = re.escape(word)
        clauses.append({"$or": [
            {"_id": {"$regex": pattern, "$options": "i"}},
            {"description": {"$regex": pattern}},
            {"location_text": {"$regex": pattern}},
        ]})
    if due_before is not None:
        clauses.append({"due_at": {"$lt": due_before}})
    if not clauses:
        return {}
    return clauses[0] if len(clauses) == 1 else {"$and": clauses}


def due_today_before(now: datetime) -> datetime:
    """The end of today in China (tickets due before then are 'due today', overdue included)."""
    local = now.astimezone(CHINA)
    return datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=CHINA)


@dataclass(frozen=True)
class BoardFilters:
    """The board form's fields, each reduced to a value it allows ("" = any)."""

    status: str = ""  # a status, "open" (every open one) or ""
    category: str = ""
    overdue: bool = False
    due: str = ""  # "today" or ""
    sort: str = "new"
    words: str = ""

    @classmethod
    def of(cls, query: Mapping[str, str]) -> "BoardFilters":
        status, category = query.get("status", ""), query.get("category", "")
        sort = query.get("sort", "new")
        return cls(
            status=status if status in STATUSES or status == "open" else "",
            category=category if category in CATEGORIES else "",
            overdue=query.get("overdue") == "1",
            due="today" if query.get("due") == "today" else "",
            sort=sort if sort in BOARD_SORTS else "new",
            words=query.get("q", "").strip()[:40],
        )

    def form(self) -> dict[str, str]:
        """The values the form shows again (and the page links keep)."""
        return {"status": self.status, "category": self.category, "overdue": "1" if self.overdue else "",
                "q": self.words, "sort": self.sort, "due": self.due}

    def board_args(self, now: datetime) -> dict[str, Any]:
        """Keyword arguments of ReportService.board for these filters at `now`."""
        return {
            "status": None if self.status in ("", "open") else self.status,
            "open_only": self.status == "open" or bool(self.due),
            "category": self.category or None,
            "overdue": True if self.overdue else None,
            "extra": board_filter(self.words, due_today_before(now) if self.due else None),
        }

    @property
    def order(self) -> list[tuple[str, int]]:
        return BOARD_SORTS[self.sort][1]
