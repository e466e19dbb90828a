"""The ticket board's search and sort: what the form's words mean as a MongoDB query.

Words are matched literally (regex-escaped, never an operator) against the ticket number,
the description and the place; several words must all match.
"""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING

from domain.time import TZ as CHINA

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
