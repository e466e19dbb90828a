"""CSV export of the ticket board (the same filters, the staff member's scope).

- UTF-8 with a BOM, so Excel opens the Chinese text as it is.
- Safe against formula injection: a cell that starts with = + - @ or a tab / carriage
  return is prefixed with an apostrophe, so a spreadsheet shows it as text.
- Masked per role: free text goes through bot.privacy.show_text like every console page.
- Every export is written to the audit trail.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable

from bot.console.common import cst
from bot.privacy import show_text
from storage.reports import STATUS_LABELS, Report
from storage.routing import CATEGORIES
from storage.staff import Staff

MAX_ROWS = 5000
HEADER = ["工单号", "提交时间", "社区", "类别", "地点", "情况", "状态", "承办部门", "办理时限", "是否超时", "同报人数"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def report_rows(reports: Iterable[Report], staff: Staff, communities: dict[str, str]) -> Iterable[list[str]]:
    for r in reports:
        yield [safe_cell(show_text(v, staff)) for v in (
            r.ticket, cst(r.created_at), communities.get(r.community, r.community),
            CATEGORIES.get(r.category, r.category), r.location_text or "", r.description,
            STATUS_LABELS.get(r.status, r.status), r.department, cst(r.due_at),
            "是" if r.overdue else "否", len(r.followers),
        )]


def to_csv(rows: Iterable[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
