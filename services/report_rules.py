"""The rules of the report (报事) closed loop that are values: the state machine (which staff
action moves a ticket from which status), the limits of a report, the duplicate and
auto-close rules, the refusals (ReportError family) and what a report is made of and what
creating one did. services/reports.py's ReportService applies them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from domain.errors import DomainError
from storage.reports import (
    CLOSED, DISPATCHED, DUPLICATE, IN_PROGRESS, OPEN_STATUSES, REJECTED, RESOLVED, SUBMITTED, Report,
)

MAX_DESCRIPTION = 500
MAX_LOCATION_TEXT = 100
MAX_PHOTOS = 3
MAX_NOTE = 500
MAX_SLA_HOURS = 720  # the longest time to resolve staff may give a category (30 days)


class ReportError(DomainError):
    """A request the rules refuse; `code` for APIs, the message (`str(exc)`) in Chinese for people."""

    code = "report_error"
    status = 400

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(code, message)
        self.args = (message,)  # str(exc): the Chinese message chat and console show
        self.en = self._detail()

    def _detail(self) -> str:
        return f"invalid report: {self.code}"


class NotFound(ReportError):
    """Also for someone else's ticket: the API does not say which (one message for both)."""

    code = "report_not_found"
    status = 404

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message, code)
        self.zh = "没有找到这个工单"

    def _detail(self) -> str:
        return "no such ticket among yours"


class IllegalTransition(ReportError):
    code = "illegal_transition"
    status = 409

    def _detail(self) -> str:
        return f"not allowed now: {self.code}"


class InvalidReport(ReportError):
    code = "invalid_report"


@dataclass(frozen=True)
class Transition:
    sources: tuple[str, ...]
    target: str
    label: str  # Chinese name of the action (console, history)


TRANSITIONS: dict[str, Transition] = {
    "dispatch": Transition((SUBMITTED, DISPATCHED), DISPATCHED, "派单"),
    "start": Transition((DISPATCHED,), IN_PROGRESS, "开始处理"),
    "resolve": Transition((DISPATCHED, IN_PROGRESS), RESOLVED, "办结"),
    "reject": Transition(OPEN_STATUSES, REJECTED, "不予受理"),
    "duplicate": Transition(OPEN_STATUSES, DUPLICATE, "标记重复"),
    "close": Transition((RESOLVED,), CLOSED, "结案"),
    "reopen": Transition((RESOLVED,), IN_PROGRESS, "重新处理"),
}
STAFF_ACTIONS = ("dispatch", "start", "resolve", "reject", "duplicate")
ACTION_LABELS = {name: t.label for name, t in TRANSITIONS.items()} | {
    "submit": "提交", "escalate": "超时升级", "rate": "评价",
}


def allowed_actions(status: str, actions: tuple[str, ...] = STAFF_ACTIONS) -> list[str]:
    """The actions the state machine allows from `status`."""
    return [name for name in actions if status in TRANSITIONS[name].sources]


@dataclass(frozen=True)
class ReportRules:
    dup_radius_m: float = 50.0
    dup_window_hours: int = 72
    auto_dispatch: bool = True
    autoclose_days: int = 7

    @classmethod
    def from_settings(cls, settings: Any) -> "ReportRules":
        return cls(
            dup_radius_m=getattr(settings, "report_dup_radius_m", cls.dup_radius_m),
            dup_window_hours=getattr(settings, "report_dup_window_hours", cls.dup_window_hours),
            auto_dispatch=getattr(settings, "report_auto_dispatch", cls.auto_dispatch),
            autoclose_days=getattr(settings, "report_autoclose_days", cls.autoclose_days),
        )


@dataclass(frozen=True)
class Reporter:
    """Who reports: the resident, the channel identity they wrote from, their community."""

    resident_id: str
    user_key: str
    community: str

    @property
    def channel(self) -> str:
        return self.user_key.split(":", 1)[0]


@dataclass
class NewReport:
    category: str
    description: str
    location_text: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    photos: list[dict[str, Any]] = field(default_factory=list)
    source: str = "chat"


@dataclass(frozen=True)
class Created:
    """What `create` did. `report` is the ticket the reporter follows: their own, or
    the open ticket theirs duplicates (then `own_ticket` is the duplicate's number)."""

    report: Report
    own_ticket: str
    duplicate: bool
    # The reporter had already reported (or followed) that open ticket themselves.
    again: bool = False
