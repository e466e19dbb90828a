"""Responses of the public catalog (社区列表)."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import Field

from bot.api.models.base import Out


class Community(Out):
    id: str = Field(..., example="huafu-tianmian")
    name: Optional[str] = Field(..., example="田面社区")
    street: Optional[str] = Field(..., example="huafu")
    street_name: Optional[str] = Field(..., example="华富街道")

    @classmethod
    def of(cls, doc: dict[str, Any], streets: dict[str, Optional[str]]) -> "Community":
        return cls(id=doc["_id"], name=doc.get("name"), street=doc.get("street"),
                   street_name=streets.get(doc.get("street")))  # type: ignore[arg-type]


class Communities(Out):
    communities: list[Community]
