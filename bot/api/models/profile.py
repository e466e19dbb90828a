"""Requests and responses of the resident's own profile (GET/PATCH/DELETE /me, export)."""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, ClassVar, Optional

from pydantic import Field, StrictBool, validator

from bot.api.models.base import Body, Out
from bot.api.models.fields import FieldProblem, integer, text
from domain.phone import MOBILE_FIELD

MIN_BIRTH_YEAR = 1900
# Fields a PATCH may clear with null (or an empty text); the others only change.
CLEARABLE = ("name", "phone", "building", "birth_year")
NOT_CLEARABLE = ("community", "disability")


class _Required:
    """Stands in for a null or empty value of a field that cannot be cleared, so the
    model reports it in its turn (the base would drop it as missing)."""


_REQUIRED = _Required()


def _update_schema(schema: dict[str, Any], model: type[ProfileUpdate]) -> None:
    Body.__config__.schema_extra(schema, model)  # type: ignore[operator]
    for name in NOT_CLEARABLE:  # optional, but null is refused
        schema["properties"][name].pop("nullable", None)
    schema["minProperties"] = 1


class ProfileUpdate(Body):
    """Only the fields sent change; null (or an empty text) clears a field."""

    name: Optional[text(32)] = None  # type: ignore[valid-type]
    phone: Optional[text(20, regex=MOBILE_FIELD)] = Field(  # type: ignore[valid-type]
        None, example="13812341234")
    building: Optional[text(64)] = None  # type: ignore[valid-type]
    birth_year: Optional[integer(ge=MIN_BIRTH_YEAR)] = Field(  # type: ignore[valid-type]
        None, description="不能晚于今年")
    community: text(64) = Field(None, description="GET /api/v1/communities 中的 id")  # type: ignore[valid-type]
    disability: StrictBool = None  # type: ignore[assignment]

    formats: ClassVar[dict[str, tuple[str, str]]] = {
        "phone": ("请填写11位手机号", "must be an 11-digit mainland mobile number")}

    class Config:
        schema_extra = staticmethod(_update_schema)

    @classmethod
    def parse_body(cls, raw: Any) -> "ProfileUpdate":
        if isinstance(raw, dict):
            raw = dict(raw)
            for name, value in raw.items():
                blank = value is None or (isinstance(value, str) and not value.strip())
                if blank and name in CLEARABLE:
                    raw[name] = None
                elif blank and name in NOT_CLEARABLE:
                    raw[name] = _REQUIRED
        return super().parse_body(raw)  # type: ignore[return-value]

    @validator(*NOT_CLEARABLE, pre=True)
    def _present(cls, value: Any, field: Any) -> Any:
        if value is _REQUIRED:
            raise FieldProblem(zh="必须填写", en="is required")
        if field.name == "disability" and not isinstance(value, bool):
            raise FieldProblem(zh="必须是 true 或 false", en="must be a boolean")
        return value

    @validator("birth_year")
    def _not_future(cls, value: Optional[int]) -> Optional[int]:
        year = datetime.now(timezone.utc).year
        if value is not None and value > year:
            raise FieldProblem(zh=f"不能大于{year}", en=f"must be <= {year}")
        return value

    def changes(self) -> dict[str, Any]:
        """The fields sent, with their new values (None: clear)."""
        return {name: getattr(self, name) for name in self.__fields__ if name in self.__fields_set__}


class Profile(Out):
    id: str
    community: str = Field(..., example="huafu-tianmian")
    community_name: Optional[str] = Field(..., example="田面社区")
    name: Optional[str] = Field(...)
    phone: Optional[str] = Field(..., example="13812341234")
    building: Optional[str] = Field(..., example="3栋")
    birth_year: Optional[int] = Field(..., example=1950)
    disability: bool
    created_at: Optional[datetime] = Field(...)


class Export(Out):
    exported_at: datetime
    profile: dict[str, Any] = Field(..., description="我的居民档案")
    conversations: list[dict[str, Any]] = Field(..., description="我和助手的对话记录，先发生的在前")
    records: dict[str, list[dict[str, Any]]] = Field(
        ..., description="集合名 -> 属于我的记录（含 resident_id 的集合）")
