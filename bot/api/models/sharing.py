"""Requests and responses of the 共享社区 API: shared items and skills, borrowing, help requests."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any, Optional, Union

from pydantic import Field, validator

from bot.api.models.base import Body, Out, Query, Variants
from bot.api.models.fields import FieldProblem, one_of, text
from bot.safe_input import parse_day
from services.sharing import HELP_KINDS
from storage import sharing as records
from storage.sharing import GIVE, HELP_TITLES, ITEM, LEND, LOAN_TITLES, POST_TITLES, SKILL

POST_KINDS = (ITEM, SKILL)
POST_MODES = (LEND, GIVE)
LOAN_ROLES = ("owner", "borrower")
HELP_ROLES = ("requester", "volunteer")
LOAN_ACTIONS = ("accept", "decline", "hand-over", "return", "cancel")
HELP_ACTIONS = ("take", "complete", "cancel", "report")


# ---- requests ---------------------------------------------------------------------------------

class SharingSearchQuery(Query):
    q: text(40) = Field("", description="关键词，如“梯子”；空则为最新")  # type: ignore[valid-type]


class LoanListQuery(Query):
    role: one_of(LOAN_ROLES) = Field(  # type: ignore[valid-type]
        "borrower", description="borrower 我借的，owner 别人借我的")


_PHOTO_URL = text(500, regex=r"^(https://|cloud://)\S{1,490}$")


class NewPost(Body):
    kind: one_of(POST_KINDS) = Field(..., description="item 物品，skill 技能")  # type: ignore[valid-type]
    mode: one_of(POST_MODES) = Field(LEND, description="借出或赠送（技能总是 lend）")  # type: ignore[valid-type]
    title: text(40) = Field(..., description="名称")  # type: ignore[valid-type]
    condition: text(40) = Field("", description="新旧程度")  # type: ignore[valid-type]
    availability: text(60) = Field("", description="什么时候方便")  # type: ignore[valid-type]
    description: text(300) = Field("", description="说明")  # type: ignore[valid-type]
    photo_url: Optional[_PHOTO_URL] = Field(None, description="https:// 或 cloud:// 图片地址")

    formats = {"photo_url": ("必须是 https:// 或 cloud:// 地址", "must be an https:// or cloud:// URL")}


class BorrowRequest(Body):
    start: text(10) = Field(..., format="date", description="开始日期 YYYY-MM-DD")  # type: ignore[valid-type]
    end: text(10) = Field(..., format="date", description="归还日期 YYYY-MM-DD")  # type: ignore[valid-type]
    note: text(100) = Field("", description="给主人的留言")  # type: ignore[valid-type]

    @validator("start", "end")
    def _a_day(cls, value: str) -> str:
        try:
            parse_day(value)
        except ValueError:
            raise FieldProblem(zh="日期格式应为 YYYY-MM-DD", en="must be a date YYYY-MM-DD") from None
        return value

    def days(self) -> tuple[date, date]:
        return parse_day(self.start), parse_day(self.end)


class ReportRequest(Body):
    reason: text(200) = Field(..., description="举报原因")  # type: ignore[valid-type]


class NewHelpRequest(Body):
    kind: one_of(HELP_KINDS) = Field(..., description="求助类型")  # type: ignore[valid-type]
    details: text(200) = Field(..., description="要帮什么")  # type: ignore[valid-type]
    when: text(40) = Field(..., description="什么时候")  # type: ignore[valid-type]
    place: text(60) = Field("", description="在哪里")  # type: ignore[valid-type]



# ---- responses --------------------------------------------------------------------------------

class Post(Out):
    id: str
    kind: one_of(POST_KINDS)  # type: ignore[valid-type]
    mode: one_of(POST_MODES)  # type: ignore[valid-type]
    title: str
    condition: str
    availability: str
    description: str
    state: one_of(POST_TITLES)  # type: ignore[valid-type]
    state_title: str = Field(..., description="状态的中文说明（被工作人员隐藏时为“已隐藏”）")
    mine: bool = Field(..., description="是不是我分享的")
    created_at: datetime
    photo_url: Optional[str] = Field(...)

    @classmethod
    def of(cls, post: records.Post, resident_id: str) -> "Post":
        return cls(id=post.id, kind=post.kind, mode=post.mode, title=post.title, condition=post.condition,
                   availability=post.availability, description=post.description, state=post.state,
                   state_title=post.state_title, mine=post.owner_id == resident_id,
                   created_at=post.created_at, photo_url=(post.photo or {}).get("url"))


class PostList(Out):
    posts: list[Post]


class Loan(Out):
    id: str
    post_id: str
    post_title: str
    start: date
    end: date
    state: one_of(LOAN_TITLES)  # type: ignore[valid-type]
    state_title: str
    note: str = Field(..., description="借用人的留言")
    role: one_of(LOAN_ROLES) = Field(..., description="我在这条借用里是主人还是借用人")  # type: ignore[valid-type]
    created_at: datetime
    handed_over_at: Optional[datetime] = Field(...)
    returned_at: Optional[datetime] = Field(...)

    @classmethod
    def fields_of(cls, loan: records.Loan, resident_id: str) -> dict[str, Any]:
        """The loan's fields as the resident sees them (shared by `Loan` and `BorrowResult`)."""
        return dict(id=loan.id, post_id=loan.post_id, post_title=loan.post_title, start=loan.start,
                    end=loan.end, state=loan.state, state_title=loan.state_title, note=loan.note,
                    role="owner" if loan.owner_id == resident_id else "borrower", created_at=loan.created_at,
                    handed_over_at=loan.handed_over_at, returned_at=loan.returned_at)

    @classmethod
    def of(cls, loan: records.Loan, resident_id: str) -> "Loan":
        return cls(**cls.fields_of(loan, resident_id))


class BorrowResult(Loan):
    """The answer to a borrow request: the loan and where it stands in the waiting list."""

    waiting_position: int = Field(..., description="排队位置：0 不用排队，东西借出中时为前面第几位")

    @classmethod
    def of_result(cls, loan: records.Loan, resident_id: str, waiting_position: int) -> "BorrowResult":
        return cls(**cls.fields_of(loan, resident_id), waiting_position=waiting_position)


class LoanList(Out):
    loans: list[Loan]


class Reported(Out):
    reported: one_of([True])  # type: ignore[valid-type]
    new: bool = Field(..., description="是否第一次举报（同一人再次举报为 false）")


class HelpRequest(Out):
    id: str
    kind: one_of(HELP_KINDS)  # type: ignore[valid-type]
    kind_title: str
    details: str
    when: str
    place: str
    state: one_of(HELP_TITLES)  # type: ignore[valid-type]
    state_title: str = Field(..., description="状态的中文说明（被工作人员隐藏时为“已隐藏”）")
    role: Optional[one_of(HELP_ROLES)] = Field(  # type: ignore[valid-type]
        ..., description="我是求助人、帮忙的人，或都不是（null）")
    created_at: datetime
    completed_at: Optional[datetime] = Field(...)

    @classmethod
    def of(cls, found: records.HelpRequest, resident_id: str) -> "HelpRequest":
        role = ("requester" if found.requester_id == resident_id
                else "volunteer" if found.volunteer_id == resident_id else None)
        return cls(id=found.id, kind=found.kind, kind_title=found.kind_title, details=found.details,
                   when=found.when, place=found.place, state=found.state, state_title=found.state_title,
                   role=role, created_at=found.created_at, completed_at=found.completed_at)


class HelpList(Out):
    help_requests: list[HelpRequest]


class HelpActionResult(Variants):
    """POST /help-requests/{id}/{action}: `report` answers Reported, the others the request."""

    __root__: Union[HelpRequest, Reported]
