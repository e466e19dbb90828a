"""Requests and responses of the points API (积分存折, 积分超市, 荣誉榜)."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

from pydantic import Field

from bot.api.models.base import Body, Out, Query
from bot.api.models.fields import one_of, query_integer, text
from storage.ledger import Entry
from storage import shop
from storage.shop import STATE_TITLES, Reservation


class PassbookQuery(Query):
    limit: query_integer(ge=0, le=100) = Field(20, description="每页条数")  # type: ignore[valid-type]
    offset: query_integer(ge=0, le=10000) = Field(0, description="跳过的条数")  # type: ignore[valid-type]


class PassbookEntry(Out):
    id: str
    kind: str
    points: int = Field(..., description="正数获得，负数支出")
    memo: Optional[str]
    created_at: datetime

    @classmethod
    def of(cls, entry: Entry, account: str) -> "PassbookEntry":
        return cls(id=entry.id, kind=entry.kind, points=entry.delta_for(account), memo=entry.memo,
                   created_at=entry.created_at)


class Passbook(Out):
    balance: int
    history: list[PassbookEntry]


class ShopItem(Out):
    id: str
    name: str
    points: int
    stock: int
    description: str

    @classmethod
    def of(cls, item: shop.ShopItem) -> "ShopItem":
        return cls(id=item.id, name=item.name, points=item.points, stock=item.stock, description=item.description)


class ShopItems(Out):
    items: list[ShopItem]


class RedeemRequest(Body):
    item_id: text(100) = Field(..., description="商品编号")  # type: ignore[valid-type]
    idempotency_key: text(64, regex=r"^[\w\-:.]{8,64}$") = Field(  # type: ignore[valid-type]
        ..., description="客户端为每次兑换生成的唯一编号")

    formats = {"idempotency_key": ("应为8到64位字母、数字或 -_:.", "must be 8-64 of letters, digits, -_:.")}


class Redemption(Out):
    id: str
    item_id: str
    item_name: str
    points: int
    code: str = Field(..., description="领取码")
    state: one_of(STATE_TITLES)  # type: ignore[valid-type]
    state_title: str
    created_at: datetime
    expires_at: datetime
    closed_at: Optional[datetime]

    @classmethod
    def of(cls, reservation: Reservation) -> "Redemption":
        return cls(id=reservation.id, item_id=reservation.item_id, item_name=reservation.item_name,
                   points=reservation.points, code=reservation.code, state=reservation.state,
                   state_title=reservation.state_title, created_at=reservation.created_at,
                   expires_at=reservation.expires_at, closed_at=reservation.closed_at)


class Redemptions(Out):
    redemptions: list[Redemption]


class LeaderboardQuery(Query):
    month: Optional[text(regex=r"^\d{4}-\d{2}$")] = Field(None, description="YYYY-MM，默认本月")  # type: ignore[valid-type]

    formats = {"month": ("格式应为 YYYY-MM", "must be YYYY-MM")}


class LeaderRow(Out):
    rank: int
    name: str = Field(..., description="打码后的姓名")
    points: int
    me: bool


class Leaderboard(Out):
    month: str
    rows: list[LeaderRow]
