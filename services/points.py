"""Points (积分制): earning by rules, staff awards and corrections, the 荣誉榜, and the
积分超市 (services/points_shop.py, mixed into PointsService).

All balances move through the ledger (storage/ledger.py); refusals are
services/points_errors.py's PointsError family.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from domain.time import TZ
from services.events import EVENT_TYPES, Event
from services.points_errors import NotEnoughPoints, NotFound, PointsError
from services.points_shop import PointsShop
from storage.communities import CommunityRepository
from storage.ledger import (
    EARNING_KINDS, ISSUER, Entry, IdempotencyConflict, InsufficientPoints, LedgerRepository, PostingInProgress, Rule,
    RuleRepository, resident_account,
)
from storage.points_limits import APPROVED, REJECTED, PointsLimits, Review
from storage.shop import ShopRepository

log = logging.getLogger(__name__)

# Events that earn points, with the default rule (seeded into `points_rules`).
DEFAULT_RULES: list[tuple[str, str, int, dict[str, Any]]] = [
    ("report.valid", "有效报事（问题已解决）", 5, {}),
    ("booking.attended", "参加志愿服务", 10, {"service": "volunteer"}),  # not every attended booking
    ("help.completed", "帮邻居完成求助", 10, {}),
    ("courier.report", "快递小哥上报问题", 5, {}),
]
# Points a resident may earn automatically per rule per China day; above it an award waits
# for staff review (a rule's `daily_cap` in `points_rules` overrides these).
DEFAULT_DAILY_CAPS: dict[str, int] = {
    "report.valid": 15, "booking.attended": 20, "help.completed": 20, "courier.report": 25,
}
# Payload keys naming the other resident of an award: one award per pair per day.
_COUNTERPART_KEYS = ("requester_id",)
# Keys of an event payload that identify the record it is about (first found wins).
_REF_KEYS = ("ref", "ticket", "booking_id", "booking", "request_id", "report_id", "id")


@dataclass
class LeaderRow:
    rank: int
    resident_id: str
    display_name: str
    points: int


def display_name(name: str | None, resident_id: str) -> str:
    """A leaderboard name that does not expose the full name (王** / 邻居1a2b)."""
    if name:
        return name[0] + "*" * max(1, min(2, len(name) - 1))
    return f"邻居{resident_id[-4:]}"


def month_bounds(month: str | None = None, now: datetime | None = None) -> tuple[str, datetime, datetime]:
    """("2026-11", start, end) of a calendar month in Asia/Shanghai, as UTC datetimes."""
    if month:
        try:
            year, mon = (int(part) for part in month.split("-", 1))
        except ValueError:
            raise ValueError("month must be YYYY-MM") from None
        if not 1 <= mon <= 12 or not 2000 <= year <= 2100:
            raise ValueError("month must be YYYY-MM")
    else:
        local = (now or datetime.now(timezone.utc)).astimezone(TZ)
        year, mon = local.year, local.month
    start = datetime(year, mon, 1, tzinfo=TZ)
    end = datetime(year + (mon == 12), mon % 12 + 1, 1, tzinfo=TZ)
    return f"{year:04d}-{mon:02d}", start.astimezone(timezone.utc), end.astimezone(timezone.utc)


def rule_daily_cap(rule: Any) -> int:
    cap = getattr(rule, "daily_cap", None)
    if isinstance(cap, int) and cap > 0:
        return cap
    return DEFAULT_DAILY_CAPS.get(rule.id, 3 * rule.points)


def event_ref(payload: dict[str, Any]) -> str | None:
    for key in _REF_KEYS:
        value = payload.get(key)
        if value not in (None, ""):
            return str(value)
    return None


class PointsService(PointsShop):
    def __init__(self, ledger: LedgerRepository, rules: RuleRepository, shop: ShopRepository, limits: PointsLimits,
                 residents: Any, notifier: Any = None, *, hold_days: int = 7) -> None:
        self.ledger, self.rules, self.shop, self.limits = ledger, rules, shop, limits
        self.residents, self.notifier, self.hold_days = residents, notifier, hold_days

    # -- what the console reads and staff change (the repositories stay behind) -----------
    async def entry(self, entry_id: str) -> Entry | None:
        return await self.ledger.get(entry_id)

    async def review(self, review_id: str) -> Review | None:
        return await self.limits.get_review(review_id)

    async def earning_rules(self) -> list[Rule]:
        return await self.rules.all()

    async def earning_rule(self, rule_id: str) -> Rule | None:
        return await self.rules.get(rule_id)

    async def update_earning_rule(self, rule_id: str, *, points: int, active: bool) -> Rule | None:
        return await self.rules.update(rule_id, points=points, active=active)


    async def ensure_indexes(self) -> None:
        await self.ledger.ensure_indexes()
        await self.shop.ensure_indexes()
        await self.limits.ensure_indexes()

    # -- reading -----------------------------------------------------------------

    async def balance(self, resident_id: str) -> int:
        return await self.ledger.balance(resident_account(resident_id))

    async def passbook(self, resident_id: str, limit: int = 10, skip: int = 0) -> list[Entry]:
        """The 积分存折: applied movements of the resident, newest first."""
        return await self.ledger.history(resident_account(resident_id), limit=limit, skip=skip)

    async def leaderboard(self, community: str, month: str | None = None, limit: int = 10) -> tuple[str, list[LeaderRow]]:
        label, start, end = month_bounds(month)
        rows = await self.ledger.earned_totals(community, start, end, limit)
        board = []
        for rank, (account, points) in enumerate(rows, 1):
            resident_id = account.split(":", 1)[1]
            resident = await self.residents.get(resident_id)
            board.append(LeaderRow(rank, resident_id, display_name(resident.name if resident else None, resident_id), points))
        return label, board

    # -- earning -------------------------------------------------------------------

    async def award_event(self, topic: str, payload: dict[str, Any]) -> Entry | None:
        """Credit the points of `topic`'s rule once per (topic, record)."""
        rule = await self.rules.get(topic)
        resident_id, ref = payload.get("resident_id"), event_ref(payload)
        if rule is None or not rule.applies_to(payload) or not resident_id or not ref:
            return None
        resident = await self.residents.get(str(resident_id))
        if resident is None:  # not a resident of this database
            return None
        key, community = f"{topic}:{ref}", payload.get("community") or resident.community
        if not await self.ledger.find({"idempotency_key": key}, limit=1):  # a replay is credited as before
            if not await self._admit(topic, rule, resident.id, ref, community, payload):
                return None
        return await self._credit_rule(topic, rule.title, rule.points, resident, ref, community)

    async def _admit(self, topic: str, rule: Any, resident_id: str, ref: str, community: str | None,
                     payload: dict[str, Any]) -> bool:
        """The anti-farming limits: once a day per pair, the rule's daily cap (above it the
        award is held for staff review)."""
        day = datetime.now(timezone.utc).astimezone(TZ).date().isoformat()
        counterpart = next((str(payload[k]) for k in _COUNTERPART_KEYS if payload.get(k)), None)
        if counterpart is not None and not await self.limits.take_pair(topic, day, resident_id, counterpart):
            log.info("points for %s not awarded: same pair as earlier today (%s)", topic, ref)
            return False
        cap = rule_daily_cap(rule)
        if not await self.limits.take_daily(resident_id, topic, day, rule.points, cap):
            await self.limits.hold(key=f"{topic}:{ref}", topic=topic, ref=ref, resident_id=resident_id,
                                   community=community, points=rule.points, title=rule.title,
                                   reason=f"超过每日上限{cap}分")
            log.info("points for %s held for review: daily cap %d reached (%s)", topic, cap, ref)
            return False
        return True

    async def _credit_rule(self, topic: str, title: str, points: int, resident: Any, ref: str,
                           community: str | None) -> Entry:
        entry = await self.ledger.post(
            f"{topic}:{ref}", resident_account(resident.id), ISSUER, points, "earn",
            ref={"type": topic, "id": ref}, memo=title, community=community, earned=points,
        )
        if not entry.replayed:
            await self._tell(resident, f"您因“{title}”获得{points}积分，现在共有"
                                       f"{await self.balance(resident.id)}积分。回复 6 查看积分。", ref=f"points:{entry.id}")
        return entry

    async def pending_reviews(self, scope: dict[str, Any]) -> list[Review]:
        return await self.limits.pending_reviews(scope)

    async def decide_review(self, review_id: str, *, approve: bool, staff_id: str) -> Review:
        """Staff approve (the points are credited now) or reject an award held for review."""
        review = await self.limits.decide(review_id, APPROVED if approve else REJECTED, staff_id)
        if review is None:
            raise PointsError("review_done", "这条待审核积分已经处理过了", "review is not pending")
        if approve:
            resident = await self.residents.get(review.resident_id)
            if resident is not None:
                await self._credit_rule(review.topic, review.title, review.points, resident, review.ref,
                                        review.community)
        return review

    async def on_event(self, event: Event) -> None:
        """The bus subscriber of every earning event: its rule is the event's topic, matched
        on the event's fields (staff configure rules that way)."""
        await self.award_event(event.topic, event.payload())

    async def award(self, *, staff_id: str, resident_id: str, points: int, reason: str, key: str) -> Entry:
        """A staff award (or deduction with a negative amount) with a reason."""
        resident = await self.residents.get(resident_id)
        if resident is None:
            raise NotFound("resident_not_found", "找不到这位居民", "no such resident")
        if not reason.strip():
            raise PointsError("reason_required", "请填写奖励原因", "a reason is required")
        if points == 0 or abs(points) > 10000:
            raise PointsError("invalid_points", "积分数必须在 -10000 到 10000 之间且不为 0", "points out of range")
        try:
            entry = await self._post(
                f"award:{key}", resident_account(resident.id), ISSUER, points, "award" if points > 0 else "deduct",
                ref={"type": "staff", "id": staff_id}, memo=reason.strip(), community=resident.community,
                earned=points if points > 0 else 0, staff_id=staff_id,
            )
        except InsufficientPoints as exc:
            raise NotEnoughPoints(exc.needed, exc.balance) from None
        if not entry.replayed:
            verb = "获得" if points > 0 else "扣除"
            await self._tell(resident, f"社区工作人员为您{verb}{abs(points)}积分：{reason.strip()}。", ref=f"points:{entry.id}")
        return entry

    async def reverse(self, *, staff_id: str, entry_id: str, reason: str) -> Entry:
        """Correct an earning with a reversing entry (once per entry)."""
        original = await self.ledger.get(entry_id)
        if original is None or original.state != "applied":
            raise NotFound("entry_not_found", "找不到这条积分记录", "no such applied entry")
        if original.kind not in EARNING_KINDS:
            raise PointsError("not_reversible", "只有获得积分的记录可以冲正，兑换请用“作废”",
                              "only earnings can be reversed; void reservations instead")
        if not reason.strip():
            raise PointsError("reason_required", "请填写冲正原因", "a reason is required")
        done = await self.ledger.find({"reverses": original.id, "state": "applied"}, limit=1)
        if done:
            done[0].replayed = True
            return done[0]
        # One key per attempt: a reversal refused for want of points may be tried again later.
        attempt = await self.ledger.count({"reverses": original.id, "state": "rejected"})
        try:
            return await self._post(
                f"reverse:{original.id}:{attempt}", original.account, original.counter_account, -original.amount, "reversal",
                ref=original.ref, memo=reason.strip(), community=original.community, earned=-original.earned,
                reverses=original.id, staff_id=staff_id,
            )
        except InsufficientPoints as exc:
            raise PointsError("already_spent", f"该居民积分已花掉，余额{exc.balance}分，不够冲正{exc.needed}分",
                              "the resident already spent these points") from None

    # -- periodic ------------------------------------------------------------------

    async def run_periodic(self, now: datetime | None = None) -> dict[str, int]:
        """Reconcile the ledger, settle stuck redemptions and void expired ones."""
        now = now or datetime.now(timezone.utc)
        counts = await self.ledger.reconcile()
        await self._settle_reservations(now, counts)
        return counts

    async def _post(self, *args: Any, **kwargs: Any) -> Entry:
        """A ledger posting for a person waiting on it: busy keys and reused keys are refusals."""
        try:
            return await self.ledger.post(*args, **kwargs)
        except PostingInProgress:
            raise PointsError("in_progress", "正在处理，请稍后再试", "this movement is being posted") from None
        except IdempotencyConflict:
            raise PointsError("key_reused", "这次操作的编号已用过", "idempotency key used for another movement") from None

    async def _tell(self, resident: Any, text: str, ref: str | None = None) -> None:
        if self.notifier is None:
            return
        try:
            await self.notifier.notify(text=text, resident_id=resident.id, ref=ref)
        except Exception:  # a notice must never undo a ledger movement
            log.exception("notice to resident %s failed", resident.id)


async def seed_points(db: Any, communities: list[str]) -> None:
    """Demo earning rules and 积分超市 items (idempotent)."""
    rules = RuleRepository(db)
    for rule_id, title, points, match in DEFAULT_RULES:
        await rules.seed(rule_id, title, points, match)
    shop = ShopRepository(db)
    for community in communities:
        for slug, name, points, stock, description in [
            ("soap", "洗衣皂", 20, 50, "日用品"),
            ("tissue", "抽纸（一提）", 40, 30, "日用品"),
            ("oil", "花生油 1L", 120, 10, "粮油"),
            ("rice", "大米 5kg", 200, 10, "粮油"),
            ("haircut", "社区理发券", 60, 20, "服务"),
        ]:
            await shop.upsert_seed_item({"_id": f"{community}-{slug}", "community": community, "name": name,
                                         "points": points, "stock": stock, "description": description})


async def seed_demo_points(db: Any) -> None:
    """Demo data of this capability for `make run`: rules, shop items, content words."""
    from services.content_check import seed_words

    communities = await CommunityRepository(db).ids()
    await seed_points(db, communities)
    await seed_words(db)


EARNING_TOPICS = [rule_id for rule_id, *_ in DEFAULT_RULES]
EARNING_EVENTS: list[type[Event]] = [EVENT_TYPES[topic] for topic in EARNING_TOPICS]
PERIODIC_SECONDS = 300.0
