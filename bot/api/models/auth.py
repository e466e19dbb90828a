"""Request and response of the mini-program login."""
from __future__ import annotations

from pydantic import Field

from bot.api.models.base import Body, Out
from bot.api.models.fields import integer, one_of, text


class LoginRequest(Body):
    code: text(128) = Field(..., description="wx.login() 返回的 code")  # type: ignore[valid-type]


class LoginResponse(Out):
    token: str = Field(..., description="放在 Authorization: Bearer 头里")
    token_type: one_of(["Bearer"])  # type: ignore[valid-type]
    expires_in: integer(ge=0) = Field(..., description="有效秒数")  # type: ignore[valid-type]
