"""Request and response of the mini-program chat (POST /api/v1/chat)."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import BaseModel, Field

from bot.api.models.base import Body, Out
from bot.api.models.fields import text
from bot.messages import Reply


class ChatRequest(Body):
    message: text() = Field(..., description="居民说的话")  # type: ignore[valid-type]
    message_id: Optional[text(128, regex=r"^[\w.:\-]{1,128}$")] = Field(  # type: ignore[valid-type]
        None, description="重发同一条消息时带上，只处理一次")

    formats = {"message_id": ("格式不正确", "must be 1-128 letters, digits or ._:-")}


class ChatButton(Out):
    title: str
    payload: str


def _reply_schema(schema: dict[str, Any], model: type[BaseModel]) -> None:
    Out.__config__.schema_extra(schema, model)  # type: ignore[operator]
    schema["properties"]["buttons"].pop("nullable", None)  # left out, never null
    schema["required"].remove("buttons")


class ChatReply(Out):
    text: str
    buttons: Optional[list[ChatButton]] = Field(None, description="可点的按钮；没有按钮时不出现")

    class Config:
        schema_extra = staticmethod(_reply_schema)

    @classmethod
    def of(cls, reply: Reply) -> "ChatReply":
        buttons = [ChatButton(title=b.title, payload=b.payload) for b in reply.buttons]
        return cls(text=reply.text, buttons=buttons or None)

    def sent(self) -> dict[str, Any]:
        """As sent: without `buttons` when there are none."""
        return self.dict(exclude_none=True)


class ChatResponse(Out):
    replies: list[ChatReply]

    def sent(self) -> dict[str, Any]:
        return {"replies": [reply.sent() for reply in self.replies]}
