"""查报事进度 (report_status): the resident's active tickets, one ticket's details, and for a
resolved ticket a 1-5 rating (or 6: not fixed, back to the department)."""
from __future__ import annotations

import re

from handlers.messages import Reply
from handlers.base import MENU_SELECT, Turn, registry
from services.report_rules import ReportError
from services.reports import ReportService
from storage.reports import CHINA_TZ, RESOLVED, Report, find_ticket
from storage.routing import CATEGORIES

STATUS_FLOW = "report_status"
_STATUS_WORDS = re.compile(
    r"怎么样了|进度|进展|到哪一步|到哪了|处理了没|处理了吗|处理得怎么样|办得怎么样|修好了没|修好了吗|"
    r"有结果|结果如何|查(?:一下|询)?(?:我的)?(?:报事|工单|报修)|我报的"
)
_EARLIER_REPORT = re.compile(r"报的|报了|报过|反映的|反映过|投诉的|投诉过|说的|说过|上次|上回|之前|单子|工单|催")
_NOT_FIXED = re.compile(r"没解决|没有解决|没修好|没好|还没好|还是坏|还坏着|没处理|不满意问题还在")


def _reports(turn: Turn) -> ReportService:
    return turn.services.reports


def looks_like_status(turn: Turn) -> bool:
    return bool(find_ticket(turn.text)) or bool(_STATUS_WORDS.search(turn.text))


@registry.on_intent("report_status")
async def report_status(turn: Turn) -> list[Reply]:
    """A problem described without pointing at an earlier report ("垃圾堆了好几天没人清理")
    is read by the NLU as either a new report or a follow-up; with nothing open it can
    only be new, so the report flow starts instead of "you have no open reports"."""
    if _describes_problem_afresh(turn) and not await _open_reports(turn):
        return await registry.intents["report_problem"](turn)  # handlers/report.py (no import cycle)
    return await show_status(turn)


def _describes_problem_afresh(turn: Turn) -> bool:
    if turn.message.kind not in ("text", "voice") or looks_like_status(turn) or _EARLIER_REPORT.search(turn.text):
        return False
    return turn.entity("category") in CATEGORIES


async def _open_reports(turn: Turn) -> list[Report]:
    resident = await turn.services.residents.find(turn.message.user_key)
    return await _reports(turn).for_resident(resident.id) if resident else []


async def show_status(turn: Turn) -> list[Reply]:
    """The ticket named in the message, or the resident's active tickets."""
    turn.state.end()
    resident = await turn.services.residents.find(turn.message.user_key)
    ticket = find_ticket(turn.text)
    if ticket:
        return [await _detail(turn, resident.id if resident else None, ticket)]
    reports = await _reports(turn).for_resident(resident.id) if resident else []
    if not reports:
        return [turn.say("report_status_none")]
    if len(reports) == 1:
        return [await _detail(turn, resident.id, reports[0].ticket, report=reports[0])]
    shown = reports[:9]
    turn.state.start(STATUS_FLOW, "pick", tickets=[r.ticket for r in shown])
    return [turn.say("report_status_list", reports=shown, categories=CATEGORIES, more=len(reports) > len(shown))]


async def _detail(turn: Turn, resident_id: str | None, ticket: str, report: Report | None = None) -> Reply:
    if report is None:
        try:
            if resident_id is None:
                raise ReportError("not found")
            report = await _reports(turn).get_for_resident(ticket, resident_id)
        except ReportError:
            turn.state.end()
            return turn.say("report_status_missing", ticket=ticket)
    can_rate = report.status == RESOLVED and report.reporter_id == resident_id and not report.rating
    if can_rate:
        turn.state.start(STATUS_FLOW, "rate", ticket=report.ticket)
    else:
        turn.state.end()
    return turn.say("report_status_detail", report=report, category=CATEGORIES.get(report.category, ""),
                    can_rate=can_rate, note=report.last_note(),
                    submitted_at=report.created_at.astimezone(CHINA_TZ).strftime("%m月%d日 %H:%M"))


@registry.on_flow(STATUS_FLOW)
async def status_flow(turn: Turn) -> list[Reply] | None:
    state, slots = turn.state, turn.state.slots
    resident = await turn.services.residents.find(turn.message.user_key)
    if resident is None:
        state.end()
        return None
    ticket = find_ticket(turn.text)
    if ticket:
        return [await _detail(turn, resident.id, ticket)]
    if state.step == "pick" and turn.intent == MENU_SELECT:
        tickets = slots.get("tickets") or []
        index = int(turn.text) - 1
        if 0 <= index < len(tickets):
            return [await _detail(turn, resident.id, tickets[index])]
        return [turn.say("invalid_choice", choice=turn.text)]
    if state.step == "rate":
        ticket = slots.get("ticket", "")
        stars = _stars(turn.text)
        service = _reports(turn)
        if stars is not None:
            state.end()
            try:
                report = await service.rate(ticket, resident.id, stars)
            except ReportError as exc:
                return [Reply(str(exc))]
            return [turn.say("report_rated", report=report, stars=stars)]
        if turn.text == "6" or _NOT_FIXED.search(turn.text):
            state.end()
            try:
                report = await service.reopen(ticket, resident.id, note=None if turn.text == "6" else turn.text[:200])
            except ReportError as exc:
                return [Reply(str(exc))]
            return [turn.say("report_reopened", report=report)]
    state.end()  # anything else: not for this flow (its numbers must not catch later menu picks)
    return None


_STAR_WORDS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "满": 5}
# "5分，修的挺快的谢谢", "给个五星", "打4星吧": a score with its unit anywhere in the message.
_SCORED = re.compile(r"(?<![0-9])([1-5一二两三四五满])\s*(?:分|星|颗星|个星)")
# "5，修得挺快" / "5 谢谢": the score first, then words.
_LEADING = re.compile(r"^\s*([1-5一二两三四五])(?![0-9十百])(?:\s*[，,。.!！\s]|$)")
_PRAISE = re.compile(r"非常满意|很满意|特别满意|十分满意|太满意")
_SATISFIED = re.compile(r"(?<!不)满意")


def _stars(text: str) -> int | None:
    """1-5 from "5", "5分", "五星", "5分，修的挺快的谢谢", "非常满意" (5), "满意" (4)."""
    for pattern in (_SCORED, _LEADING):
        match = pattern.search(text)
        if match:
            raw = match.group(1)
            return int(raw) if raw.isdigit() else _STAR_WORDS[raw]
    if _PRAISE.search(text):
        return 5
    if _SATISFIED.search(text) and "不" not in text:
        return 4
    return None
