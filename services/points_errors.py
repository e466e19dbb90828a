"""The refusals of the points capability (积分): a Chinese message for residents, an English detail."""
from __future__ import annotations

from domain.errors import DomainError


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
