"""What every console page shares: China time, place names, pagination.

- `cst` (template filter): a datetime in Asia/Shanghai, formatted; naive values are UTC.
- `place_names(db)`: community and street codes -> names (the context processor puts them
  in every console page as `communities` and `streets`).
- `Page`: one page of a list (`?page=`), with links that keep the other query parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping
from urllib.parse import urlencode

from domain.time import TZ as CHINA
from domain.time import local as to_china
from storage.communities import CommunityRepository

DEFAULT_FORMAT = "%Y-%m-%d %H:%M"


def cst(value: Any, fmt: str = DEFAULT_FORMAT) -> str:
    """Jinja filter: `{{ r.created_at|cst }}`, `{{ t.at|cst("%H:%M:%S") }}`."""
    if value is None or value == "":
        return ""
    if isinstance(value, datetime):
        return to_china(value).strftime(fmt)
    if isinstance(value, date):
        return value.strftime(fmt.split(" ")[0])
    return str(value)


async def place_names(db: Any) -> tuple[dict[str, str], dict[str, str]]:
    communities = await CommunityRepository(db).names()
    streets = {d["_id"]: d.get("name", d["_id"]) async for d in db["streets"].find({}, {"name": 1})}
    return communities, streets


@dataclass(frozen=True)
class Page:
    number: int
    size: int
    total: int
    query: Mapping[str, str]
    path: str

    @classmethod
    def of(cls, query: Mapping[str, str], total: int, path: str, size: int = 20) -> "Page":
        try:
            number = int(query.get("page", "1"))
        except ValueError:
            number = 1
        last = max(1, math.ceil(total / size))
        return cls(min(max(1, number), last), size, total, dict(query), path)

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))

    @property
    def skip(self) -> int:
        return (self.number - 1) * self.size

    def url(self, number: int) -> str:
        params = {k: v for k, v in self.query.items() if k != "page" and v != ""}
        params["page"] = str(number)
        return f"{self.path}?{urlencode(params)}"

    def url_with(self, **changes: str) -> str:
        """This list with other parameters (e.g. a new sort), from page 1."""
        params = {k: v for k, v in self.query.items() if k != "page" and v != ""}
        params.update({k: v for k, v in changes.items()})
        return f"{self.path}?{urlencode({k: v for k, v in params.items() if v != ''})}"
