"""Report problems (报事): the rules of the grid's closed loop.

    submitted -> dispatched -> in_progress -> resolved -> closed
         \\-----------\\-------------\\-> rejected | duplicate   (with a reason)
    resolved -> in_progress   (the resident says it is not fixed)

- Routing: the category decides the department and the SLA (storage/routing.py).
- Duplicates: a new report of the same category within `dup_radius_m` (or with the same
  location text in the same community) and `dup_window_hours` of an open ticket is
  stored as a duplicate of it, and its reporter follows the open ticket instead.
- Escalation: open tickets past their due time become overdue and go up one level
  (community -> street); resolved tickets nobody confirmed are closed after
  `autoclose_days` (自动结案). `run_timers` does both (bot/periodic.py runs it).
- Every status change is sent to the reporter and followers (services/notify.py).
- A resolved report publishes `report.valid` once (services/events.py: the points hook).

Time comes from `clock`, so tests control it. The state machine, limits, refusals and the
value types a report is made of: services/report_rules.py.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from pymongo.errors import DuplicateKeyError

from services import events
from services.events import EventBus
from services.notify import Notifier
from services.report_rules import (
    MAX_DESCRIPTION, MAX_LOCATION_TEXT, MAX_NOTE, MAX_PHOTOS, MAX_SLA_HOURS, TRANSITIONS, Created,
    IllegalTransition, InvalidReport, NewReport, NotFound, Reporter, ReportRules,
)
from services.texts import render
from storage.locks import Serializer, local_serializer
from storage.reports import (
    ACTIVE_STATUSES, CLOSED, DISPATCHED, DUPLICATE, REJECTED, RESOLVED, SUBMITTED,
    SYSTEM, Actor, Report, ReportRepository, find_ticket, location_key,
)
from storage.routing import CATEGORIES, Route, RoutingRepository

log = logging.getLogger(__name__)

def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _clean(text: str | None, limit: int) -> str:
    return " ".join((text or "").split())[:limit]


class ReportService:
    def __init__(
        self,
        repo: ReportRepository,
        routing: RoutingRepository,
        notifier: Notifier,
        rules: ReportRules | None = None,
        *,
        bus: EventBus,
        clock: Callable[[], datetime] = _utcnow,
        serialize: Serializer | None = None,
    ) -> None:
        # One new report at a time per community and category (across workers when given a
        # Redis serializer), so the duplicate check and the insert are one step.
        self._serialize = serialize or local_serializer()
        self.repo = repo
        self.routing = routing
        self.notifier = notifier
        self.rules = rules or ReportRules()
        self.clock = clock
        self.bus = bus

    # -- creating ----------------------------------------------------------------

    # -- what the console reads (the repositories stay behind the service) ----------------
    async def find(self, ticket: str, scope: dict[str, Any] | None = None) -> Report | None:
        """The ticket, or None (`get` raises NotFound instead)."""
        return await self.repo.get(ticket, scope)

    async def board(self, *args: Any, **kwargs: Any) -> Any:
        """The console's board: storage.reports.ReportRepository.board's filters."""
        return await self.repo.board(*args, **kwargs)

    async def stats(self, scope: dict[str, Any], since: datetime | None = None) -> list[Any]:
        return await self.repo.stats(scope, since)

    async def routing_table(self) -> list[Route]:
        """Every category's department and time to resolve, in menu order (the routing page,
        and the departments a ticket may be dispatched to)."""
        return await self.routing.all()

    async def set_route(self, category: str, department: str, sla_hours: str | int) -> tuple[Route, Route]:
        """Give a category another department and time to resolve (whole hours, 1 to
        MAX_SLA_HOURS): (before, after); InvalidReport for an unknown category, no department
        or another time."""
        hours = str(sla_hours)
        if (category not in CATEGORIES or not department
                or not hours.isdigit() or not 1 <= int(hours) <= MAX_SLA_HOURS):
            raise InvalidReport(f"请填写承办部门和 1-{MAX_SLA_HOURS} 之间的办理时限（小时）", "invalid_route")
        before = await self.routing.get(category)
        return before, await self.routing.set(category, department, int(hours))


    async def create(self, reporter: Reporter, new: NewReport) -> Created:
        """Validate and save a report, or link it to the open ticket it duplicates. Reports
        of one category in one community are created one at a time: twelve people
        reporting the same lamp at once make one original and eleven duplicates."""
        async with self._serialize(f"reports:{reporter.community}:{new.category}"):
            return await self._create(reporter, new)

    async def _create(self, reporter: Reporter, new: NewReport) -> Created:
        category = new.category if new.category in CATEGORIES else None
        if category is None:
            raise InvalidReport("请选择问题类别", "invalid_category")
        description = _clean(new.description, MAX_DESCRIPTION)
        if not description:
            raise InvalidReport("请描述一下问题", "missing_description")
        location_text = _clean(new.location_text, MAX_LOCATION_TEXT) or None
        point = self._point(new.latitude, new.longitude)
        if len(new.photos) > MAX_PHOTOS:
            raise InvalidReport(f"最多上传{MAX_PHOTOS}张照片", "too_many_photos")
        now = self.clock()
        key = location_key(location_text)
        original = await self.repo.find_open_duplicate(
            category=category, community=reporter.community,
            since=now - timedelta(hours=self.rules.dup_window_hours),
            point=point, location_key=key, radius_m=self.rules.dup_radius_m,
        )
        route = await self.routing.get(category)
        resident = Actor("resident", reporter.resident_id, None)
        history = [self._entry("submit", SUBMITTED, resident, now)]
        doc: dict[str, Any] = {
            "resident_id": reporter.resident_id, "channel": reporter.channel,
            "community": reporter.community,
            "category": category, "department": route.department, "level": "community",
            "location_text": location_text, "location_key": key, "description": description,
            "photos": list(new.photos), "status": SUBMITTED, "history": history,
            "created_at": now, "updated_at": now, "sla_hours": route.sla_hours,
            "due_at": now + timedelta(hours=route.sla_hours), "overdue": False,
            "followers": [], "rating": None, "source": new.source,
        }
        if point is not None:
            doc["location"] = point
        if original is not None:
            reason = f"与 {original.ticket} 重复（同类问题，位置相近）"
            history.append(self._entry("duplicate", DUPLICATE, SYSTEM, now, reason=reason,
                                       duplicate_of=original.ticket))
            doc.update(status=DUPLICATE, duplicate_of=original.ticket, reason=reason)
            ticket = (await self._insert(doc, now)).ticket
            follower = {"resident_id": reporter.resident_id, "channel": reporter.channel, "at": now, "via": ticket}
            linked = await self.repo.add_follower(original.ticket, follower, now) or original
            log.info("report %s linked to open ticket %s", ticket, original.ticket)
            return Created(report=linked, own_ticket=ticket, duplicate=True,
                           again=original.follows(reporter.resident_id))
        if self.rules.auto_dispatch:
            history.append(self._entry("dispatch", DISPATCHED, SYSTEM, now, department=route.department))
            doc["status"] = DISPATCHED
        report = await self._insert(doc, now)
        return Created(report=report, own_ticket=report.ticket, duplicate=False)

    async def _insert(self, doc: dict[str, Any], now: datetime) -> Report:
        """Insert under a fresh ticket number; a number already taken draws the next."""
        for _ in range(10):
            doc["_id"] = await self.repo.next_ticket(now)
            try:
                return await self.repo.insert(doc)
            except DuplicateKeyError:
                log.warning("ticket number %s already taken; drawing another", doc["_id"])
        raise RuntimeError("could not store the report under a new ticket number")

    @staticmethod
    def _point(latitude: float | None, longitude: float | None) -> dict[str, Any] | None:
        if latitude is None and longitude is None:
            return None
        try:
            lat, lng = float(latitude), float(longitude)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise InvalidReport("位置坐标不正确", "invalid_location") from None
        if not (-90 <= lat <= 90 and -180 <= lng <= 180):
            raise InvalidReport("位置坐标不正确", "invalid_location")
        return {"type": "Point", "coordinates": [lng, lat]}

    @staticmethod
    def _entry(action: str, status: str | None, actor: Actor, at: datetime, **extra: Any) -> dict[str, Any]:
        entry: dict[str, Any] = {"action": action, "at": at, "actor": actor.as_doc()}
        if status:
            entry["status"] = status
        entry.update({k: v for k, v in extra.items() if v is not None})
        return entry

    # -- reading -------------------------------------------------------------------

    async def get(self, ticket: str, scope: dict[str, Any] | None = None) -> Report:
        report = await self.repo.get(ticket, scope)
        if report is None:
            raise NotFound("没有找到这个工单")
        return report

    async def for_resident(self, resident_id: str, *, active_only: bool = True, limit: int = 20) -> list[Report]:
        return await self.repo.for_resident(resident_id, ACTIVE_STATUSES if active_only else None, limit)

    async def get_for_resident(self, ticket: str, resident_id: str) -> Report:
        """A ticket the resident reported or follows (NotFound otherwise: no leaking)."""
        report = await self.repo.get(ticket)
        if report is None or not report.follows(resident_id):
            raise NotFound("没有找到您的这个工单")
        return report.seen_by(resident_id)

    # -- staff actions ---------------------------------------------------------------

    async def act(
        self,
        ticket: str,
        action: str,
        actor: Actor,
        *,
        scope: dict[str, Any] | None = None,
        note: str | None = None,
        reason: str | None = None,
        department: str | None = None,
        duplicate_of: str | None = None,
        photo: dict[str, Any] | None = None,
    ) -> Report:
        """Apply one state-machine action; refuses illegal ones (IllegalTransition)."""
        spec = TRANSITIONS.get(action)
        if spec is None:
            raise IllegalTransition(f"未知操作：{action}")
        current = await self.get(ticket, scope)
        if current.status not in spec.sources:
            raise IllegalTransition(
                f"工单当前状态为“{current.status_label}”，不能{spec.label}"
            )
        note = _clean(note, MAX_NOTE) or None
        reason = _clean(reason, MAX_NOTE) or None
        now = self.clock()
        changes: dict[str, Any] = {"status": spec.target, "updated_at": now}
        extra: dict[str, Any] = {"note": note}
        target: Report | None = None
        if action == "dispatch":
            department = _clean(department, 100) or (await self.routing.get(current.category)).department
            changes["department"] = extra["department"] = department
        elif action == "resolve":
            if not note:
                raise InvalidReport("请填写处理结果", "missing_note")
            changes["resolved_at"] = now
            if photo:
                extra["photo"] = photo
        elif action == "reject":
            if not reason:
                raise InvalidReport("请填写不予受理的原因", "missing_reason")
            changes["reason"] = extra["reason"] = reason
        elif action == "duplicate":
            target_ticket = find_ticket(duplicate_of or "")
            if not target_ticket or target_ticket == current.ticket:
                raise InvalidReport("请填写重复的原工单号", "missing_duplicate_of")
            target = await self.repo.get(target_ticket, scope)
            if target is None or target.status in (REJECTED, DUPLICATE):
                raise InvalidReport(f"原工单 {target_ticket} 不存在或已失效", "bad_duplicate_of")
            reason = reason or f"与 {target_ticket} 重复"
            changes.update(duplicate_of=target_ticket, reason=reason)
            extra.update(duplicate_of=target_ticket, reason=reason)
        elif action == "close":
            changes["closed_at"] = now
        elif action == "reopen":
            changes["resolved_at"] = None
        entry = self._entry(action, spec.target, actor, now, **extra)
        report = await self.repo.transition(ticket, spec.sources, entry, changes, scope)
        if report is None:  # someone else changed it in between
            raise IllegalTransition("工单状态刚刚发生了变化，请刷新后再试")
        if action == "duplicate" and target is not None:
            for person in report.audience():
                await self.repo.add_follower(target.ticket, {**person, "at": now, "via": report.ticket}, now)
        if action == "resolve":
            await self._publish_valid(report, now)
        await self._notify(report, action, exclude=actor.id if actor.kind == "resident" else None)
        return report

    async def _publish_valid(self, report: Report, now: datetime) -> None:
        """The points hook: once per ticket, when it is first resolved."""
        if await self.repo.claim_flag(report.ticket, "valid_event_at", now):
            await self.bus.publish(events.ReportValid(
                ticket=report.ticket, resident_id=report.resident_id, community=report.community,
                category=report.category, at=now,
            ))

    async def _notify(self, report: Report, action: str, exclude: str | None = None) -> None:
        for person in report.audience():
            if exclude and person.get("resident_id") == exclude:
                continue
            # followers get the status only (Report.seen_by): no location, no staff note
            seen = report.seen_by(person.get("resident_id"))
            text = render("report_notice", report=seen, action=action, category=CATEGORIES.get(report.category, ""),
                          note=seen.last_note() if action in ("resolve", "reject", "duplicate", "reopen") else None)
            try:
                await self.notifier.notify(text=text, resident_id=person.get("resident_id"),
                                           channel=person.get("channel"), ref=report.ticket)
            except Exception:  # a notice must never undo the staff action
                log.exception("notifying %s about %s failed", person.get("resident_id"), report.ticket)

    # -- the resident's side -----------------------------------------------------------

    async def rate(self, ticket: str, resident_id: str, stars: int, comment: str | None = None) -> Report:
        """The reporter confirms the fix and rates it 1-5; a resolved ticket closes."""
        if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5:
            raise InvalidReport("评分请选 1 到 5 分", "invalid_rating")
        report = await self.get_for_resident(ticket, resident_id)
        if report.reporter_id != resident_id:
            raise NotFound("只有报事人可以评价")
        if report.status not in (RESOLVED, CLOSED):
            raise IllegalTransition("问题还没处理完，处理完后再评价", "not_resolved")
        if report.rating:
            raise IllegalTransition("这个工单已经评价过了", "already_rated")
        now = self.clock()
        rating = {"stars": stars, "comment": _clean(comment, 200) or None, "at": now}
        rated = await self.repo.set_rating(report.ticket, resident_id, rating, now)
        if rated is None:
            raise IllegalTransition("这个工单已经评价过了", "already_rated")
        if rated.status == RESOLVED:
            actor = Actor("resident", resident_id, None)
            entry = self._entry("close", CLOSED, actor, now, note=f"居民确认已解决，评价{stars}星")
            closed = await self.repo.transition(rated.ticket, (RESOLVED,), entry, {"status": CLOSED, "closed_at": now,
                                                                                   "updated_at": now})
            if closed is not None:
                await self._notify(closed, "close", exclude=resident_id)
                return closed
        return rated

    async def reopen(self, ticket: str, resident_id: str, note: str | None = None) -> Report:
        """The resident says a resolved problem is not fixed: back to in progress."""
        report = await self.get_for_resident(ticket, resident_id)
        if report.reporter_id != resident_id:
            raise NotFound("只有报事人可以要求重新处理")
        return await self.act(report.ticket, "reopen", Actor("resident", resident_id, None),
                              note=note or "居民反馈问题还没解决")

    # -- timers ----------------------------------------------------------------------

    async def escalate_overdue(self) -> list[str]:
        """Mark open tickets past their SLA overdue and move them up one level."""
        now = self.clock()
        escalated = []
        for _ in range(1000):
            entry = self._entry("escalate", None, SYSTEM, now, note="超过办理时限，升级到街道督办")
            report = await self.repo.escalate_next(now, entry)
            if report is None:
                break
            escalated.append(report.ticket)
            log.info("report %s overdue: escalated to the street", report.ticket)
        await self.repo.mark_overdue(now)
        return escalated

    async def autoclose(self) -> list[str]:
        """Close resolved tickets nobody confirmed within `autoclose_days` (自动结案)."""
        cutoff = self.clock() - timedelta(days=self.rules.autoclose_days)
        closed = []
        for ticket in await self.repo.resolved_before(cutoff):
            try:
                await self.act(ticket, "close", SYSTEM, note=f"处理完成后{self.rules.autoclose_days}天未反馈，自动结案")
                closed.append(ticket)
            except IllegalTransition:  # the reporter confirmed or reopened it meanwhile
                continue
        return closed

    async def run_timers(self) -> dict[str, list[str]]:
        """One tick of the periodic task."""
        return {"escalated": await self.escalate_overdue(), "closed": await self.autoclose()}
