"""The 积分超市 part of PointsService: items and stock, redemptions and their hand-over.

A redemption reserves one unit of stock and the points (resident -> escrow) as two
idempotent steps with compensation: no stock -> nothing happens; stock but too few points ->
the stock goes back. Staff confirm the hand-over (escrow -> shop) or void it (escrow ->
resident, stock back); reservations not collected within `hold_days` are voided by the
periodic job, which also settles redemptions a crash left half done.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Any, Awaitable, Callable

from bson import ObjectId

from services.points_errors import NotEnoughPoints, NotFound, PointsError
from storage.ledger import ESCROW, SHOP, Entry, InsufficientPoints, LedgerError, LedgerRepository, resident_account
from storage.shop import (
    FAILED, FULFILLED, FULFILLING, RESERVED, RESERVING, VOIDED, VOIDING, Reservation, ShopItem, ShopRepository,
)

log = logging.getLogger(__name__)


class PointsShop:
    """Mixed into services.points.PointsService, which provides these."""

    ledger: LedgerRepository
    shop: ShopRepository
    residents: Any
    hold_days: int
    _post: Callable[..., Awaitable[Entry]]
    _tell: Callable[..., Awaitable[None]]
    balance: Callable[[str], Awaitable[int]]

    # -- what the console reads and staff change ---------------------------------------
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

    # -- redeeming -----------------------------------------------------------------------

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

    async def _settle_reservations(self, now: datetime, counts: dict[str, int]) -> None:
        """The periodic job's part: settle stuck redemptions and void expired ones (counted)."""
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
