"""Points (积分制): earning by rules, staff awards and corrections, the 积分超市 and the 荣誉榜.

All balances move through the ledger (storage/ledger.py). A redemption reserves one
unit of stock and the points (resident -> escrow) as two idempotent steps with
compensation: no stock -> nothing happens; stock but too few points -> the stock goes
back. Staff confirm the hand-over (escrow -> shop) or void it (escrow -> resident, stock
back); reservations not collected within `hold_days` are voided by the periodic job.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import ObjectId

from domain.time import TZ
from storage.communities import CommunityRepository
from domain.errors import DomainError
from storage.ledger import (
    EARNING_KINDS, ESCROW, ISSUER, SHOP, Entry, IdempotencyConflict, InsufficientPoints, LedgerError,
    LedgerRepository, PostingInProgress, Rule, RuleRepository, resident_account,
)
from storage.points_limits import APPROVED, REJECTED, PointsLimits, Review
from storage.shop import (
    FAILED, FULFILLED, FULFILLING, RESERVED, RESERVING, VOIDED, VOIDING, Reservation, ShopItem, ShopRepository,
)

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


class PointsError(DomainError):
    """A refusal with a Chinese message for residents and an English detail."""

    status = 409

    def __init__(self, code: str, zh: str, en: str) -> None:
        super().__init__(code, zh, en)


class NotFound(PointsError):
    status = 404


class NotEnoughPoints(PointsError):
    def __init__(self, needed: int, balance: int) -> None:
        super().__init__("insufficient_points", f"积分不够：需要{needed}分，您现在有{balance}分",
                         f"needs {needed} points, balance is {balance}")
        self.needed, self.balance = needed, balance


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


class PointsService:
    def __init__(self, ledger: LedgerRepository, rules: RuleRepository, shop: ShopRepository, limits: PointsLimits,
                 residents: Any, notifier: Any = None, *, hold_days: int = 7) -> None:
        self.ledger, self.rules, self.shop, self.limits = ledger, rules, shop, limits
        self.residents, self.notifier, self.hold_days = residents, notifier, hold_days

    # -- what the console reads and staff change (the repositories stay behind) -----------
    async def entry(self, entry_id: str) -> Entry | None:
        return await self.ledger.get(entry_id)

    async def review(self, review_id: str) -> Review | None:
        return await self.limits.get_review(review_id)

    async def reservation(self, reservation_id: str) -> Reservation | None:
        return await self.shop.get_reservation(reservation_id)

    async def reservation_by_code(self, code: str, scope: dict[str, Any]) -> Reservation | None:
        return await self.shop.find_by_code(code, scope)

    async def reservations_in_scope(self, scope: dict[str, Any], states: list[str] | None,
                                    limit: int) -> list[Reservation]:
        return await self.shop.list_reservations(scope, states, limit)

    async def shop_items(self, scope: dict[str, Any], *, active_only: bool = True) -> list[ShopItem]:
        return await self.shop.list_items(scope, active_only=active_only)

    async def shop_item(self, item_id: str) -> ShopItem | None:
        return await self.shop.get_item(item_id)

    async def add_shop_item(self, community: str, name: str, points: int, stock: int, description: str) -> ShopItem:
        return await self.shop.add_item(community, name, points, stock, description)

    async def update_shop_item(self, item_id: str, **changes: Any) -> ShopItem | None:
        return await self.shop.update_item(item_id, **changes)

    async def restock(self, item_id: str, count: int) -> ShopItem | None:
        """Add (or take away) stock; None when there is not that much to take away."""
        return await self.shop.add_stock(item_id, count)

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

    def subscriber(self, topic: str):
        """An events.py subscriber crediting `topic`'s points."""

        async def on_event(payload: dict[str, Any]) -> None:
            await self.award_event(topic, payload)

        on_event.__qualname__ = f"PointsService.on[{topic}]"
        return on_event

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

    # -- shop ------------------------------------------------------------------------

    async def items(self, community: str) -> list[ShopItem]:
        return await self.shop.list_items({"community": community})

    async def redeem(self, resident: Any, item_id: str, key: str) -> Reservation:
        """Reserve one unit and its points for `resident`; the same key replays."""
        item = await self.shop.get_item(item_id)
        if item is None or not item.active or item.community != resident.community:
            raise NotFound("item_not_found", "积分超市里没有这件商品", "no such shop item in this community")
        now = datetime.now(timezone.utc)
        reservation, new = await self.shop.create_reservation({
            "_id": str(ObjectId()), "key": f"{resident.id}:{key}", "resident_id": resident.id,
            "community": resident.community, "item_id": item.id, "item_name": item.name, "points": item.points,
            "state": RESERVING, "state_at": now, "created_at": now, "expires_at": now + timedelta(days=self.hold_days),
        })
        if not new:
            if reservation.item_id != item.id:
                raise PointsError("key_reused", "这次兑换的编号已用过", "idempotency key used for another item")
            return await self._settle(reservation)
        return await self._reserve(reservation)

    async def _reserve(self, reservation: Reservation) -> Reservation:
        if not await self.shop.take_stock(reservation.item_id, reservation.id, reservation.community):
            await self.shop.transition(reservation.id, [RESERVING], FAILED, reason="out_of_stock")
            raise PointsError("out_of_stock", f"“{reservation.item_name}”已经兑完了", "out of stock")
        try:
            await self._post(
                f"redeem:{reservation.id}", resident_account(reservation.resident_id), ESCROW, -reservation.points,
                "redeem", ref={"type": "reservation", "id": reservation.id}, memo=f"兑换{reservation.item_name}",
                community=reservation.community,
            )
        except InsufficientPoints as exc:
            await self.shop.give_back_stock(reservation.item_id, reservation.id)
            await self.shop.transition(reservation.id, [RESERVING], FAILED, reason="insufficient_points")
            raise NotEnoughPoints(exc.needed, exc.balance) from None
        except BaseException:  # unknown outcome (storage down): the periodic reconcile settles it
            log.exception("redemption %s left for reconciliation", reservation.id)
            raise
        done = await self.shop.transition(reservation.id, [RESERVING], RESERVED)
        return done or await self.shop.get_reservation(reservation.id)

    async def _settle(self, reservation: Reservation) -> Reservation:
        """Bring a replayed or stale "reserving" reservation to its outcome."""
        if reservation.state == FAILED:
            if reservation.reason == "insufficient_points":
                raise NotEnoughPoints(reservation.points, await self.balance(reservation.resident_id))
            raise PointsError("out_of_stock", f"“{reservation.item_name}”已经兑完了", "out of stock")
        if reservation.state != RESERVING:
            return reservation
        entry = await self.ledger.by_key(f"redeem:{reservation.id}")
        if entry is not None and entry.state == "applied":
            return await self.shop.transition(reservation.id, [RESERVING], RESERVED) or await self.shop.get_reservation(reservation.id)
        if entry is not None and entry.state == "rejected":
            await self.shop.give_back_stock(reservation.item_id, reservation.id)
            await self.shop.transition(reservation.id, [RESERVING], FAILED, reason="insufficient_points")
            return await self._settle(await self.shop.get_reservation(reservation.id))
        return await self._reserve(reservation)  # every step is idempotent

    async def reservations(self, resident_id: str, limit: int = 10) -> list[Reservation]:
        return await self.shop.for_resident(resident_id, limit)

    async def confirm(self, reservation_id: str, *, staff_id: str | None) -> Reservation:
        """Staff handed the goods over: the held points go to the shop."""
        reservation = await self.shop.transition(reservation_id, [RESERVED, FULFILLING], FULFILLING, staff_id=staff_id)
        if reservation is None:
            raise await self._state_error(reservation_id, "无法核销")
        await self._post(
            f"redeem-confirm:{reservation.id}", SHOP, ESCROW, reservation.points, "redeem_confirm",
            ref={"type": "reservation", "id": reservation.id}, memo=f"领取{reservation.item_name}",
            community=reservation.community, staff_id=staff_id,
        )
        await self.shop.release_hold(reservation.item_id, reservation.id)
        return await self.shop.transition(reservation.id, [FULFILLING], FULFILLED) or await self.shop.get_reservation(reservation.id)

    async def void(self, reservation_id: str, *, staff_id: str | None, reason: str, resident_id: str | None = None) -> Reservation:
        """Cancel a reservation: points back to the resident, the unit back on the shelf.
        `resident_id` restricts it to the resident's own reservation (self-service)."""
        if resident_id is not None:
            own = await self.shop.get_reservation(reservation_id)
            if own is None or own.resident_id != resident_id:
                raise NotFound("reservation_not_found", "找不到这条兑换记录", "no such reservation")
        reservation = await self.shop.transition(reservation_id, [RESERVED, VOIDING], VOIDING, staff_id=staff_id, reason=reason)
        if reservation is None:
            raise await self._state_error(reservation_id, "无法取消")
        await self._post(
            f"redeem-void:{reservation.id}", resident_account(reservation.resident_id), ESCROW, reservation.points,
            "redeem_void", ref={"type": "reservation", "id": reservation.id}, memo=f"退回：{reservation.item_name}",
            community=reservation.community, staff_id=staff_id,
        )
        await self.shop.give_back_stock(reservation.item_id, reservation.id)
        done = await self.shop.transition(reservation.id, [VOIDING], VOIDED)
        if done is None:  # a concurrent void finished it: that one answers (and is audited)
            raise await self._state_error(reservation.id, "无需再次取消")
        if staff_id is not None:
            resident = await self.residents.get(reservation.resident_id)
            if resident is not None:
                await self._tell(resident, f"您兑换的“{reservation.item_name}”已取消（{reason}），"
                                           f"{reservation.points}积分已退回。", ref=f"reservation:{reservation.id}")
        return done

    async def _state_error(self, reservation_id: str, action: str) -> PointsError:
        current = await self.shop.get_reservation(reservation_id)
        if current is None:
            return NotFound("reservation_not_found", "找不到这条兑换记录", "no such reservation")
        return PointsError("bad_state", f"这条兑换{current.state_title}，{action}", f"reservation is {current.state}")

    # -- periodic ------------------------------------------------------------------

    async def run_periodic(self, now: datetime | None = None) -> dict[str, int]:
        """Reconcile the ledger, settle stuck redemptions and void expired ones."""
        now = now or datetime.now(timezone.utc)
        counts = await self.ledger.reconcile()
        stale = now - timedelta(minutes=5)
        for reservation in await self.shop.stale([RESERVING], stale):
            try:
                await self._settle(reservation)
            except (PointsError, LedgerError):
                pass
            counts["settled"] = counts.get("settled", 0) + 1
        for reservation in await self.shop.stale([FULFILLING], stale):
            await self.confirm(reservation.id, staff_id=reservation.staff_id)
        for reservation in await self.shop.stale([VOIDING], stale):
            try:
                await self.void(reservation.id, staff_id=reservation.staff_id, reason=reservation.reason or "")
            except PointsError:  # finished meanwhile by the void that started it
                continue
        for reservation in await self.shop.stale([RESERVED], now, field="expires_at"):
            try:
                await self.void(reservation.id, staff_id=None, reason="expired")
            except PointsError:
                continue
            counts["expired"] = counts.get("expired", 0) + 1
            resident = await self.residents.get(reservation.resident_id)
            if resident is not None:
                await self._tell(resident, f"您兑换的“{reservation.item_name}”超过{self.hold_days}天未领取，已自动取消，"
                                           f"{reservation.points}积分已退回。", ref=f"reservation:{reservation.id}")
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
PERIODIC_SECONDS = 300.0
