"""CSV and Excel (xlsx) export of the ticket board (the same filters, the staff member's scope).

- CSV: UTF-8 with a BOM, so Excel opens the Chinese text as it is.
- xlsx (openpyxl): one sheet, every cell written as a string (never a formula), a bold
  frozen header row, column widths for Chinese text; characters XML cannot hold are dropped.
- Safe against formula injection: a cell that starts with = + - @ or a tab / carriage
  return is prefixed with an apostrophe, so a spreadsheet shows it as text (in the xlsx
  also typed as text, so it stays text even when someone edits the cell).
- Masked per role: free text goes through bot.privacy.show_text like every console page.
- Every export is written to the audit trail.
"""
from __future__ import annotations

import csv
import io
from typing import Any, Iterable

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Font

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


XLSX_WIDTHS = [16, 17, 14, 12, 24, 40, 10, 18, 17, 9, 9]
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_xlsx(rows: Iterable[list[str]], title: str = "工单") -> bytes:
    """The rows (already safe_cell'd and masked) as an xlsx workbook; strings only."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title[:31])
    for i, width in enumerate(XLSX_WIDTHS):
        sheet.column_dimensions[chr(ord("A") + i)].width = width
    sheet.freeze_panes = "A2"
    bold = Font(bold=True)

    def cell(value: Any, font: Font | None = None) -> WriteOnlyCell:
        text = ILLEGAL_CHARACTERS_RE.sub("", safe_cell(value))
        c = WriteOnlyCell(sheet, value=text)
        c.data_type = "s"  # text, even when it looks like a formula or a number
        if font is not None:
            c.font = font
        return c

    sheet.append([cell(h, bold) for h in HEADER])
    for row in rows:
        sheet.append([cell(v) for v in row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
