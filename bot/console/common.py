"""What every console page shares: China time, place names, pagination.

- `cst` (template filter): a datetime in Asia/Shanghai, formatted; naive values are UTC.
- `community_names`, `communities_in_scope` (the signed-in staff member's, for a select);
  every console page also gets `community_names` / `street_names` from the context
  processor (bot/console/auth.py).
- `Page`: one page of a list (`?page=`), with links that keep the other query parameters.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Mapping
from urllib.parse import urlencode

from aiohttp import web

from bot import keys
from bot.console.auth import STAFF

from domain.time import local as to_china
from storage.scope import in_scope, staff_scope

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


SCOPE = "linli.console.scope"  # request key of scope_of's answer


async def community_names(request: web.Request) -> dict[str, str]:
    """Community id -> name, of every community."""
    return await request.config_dict[keys.COMMUNITIES].names()


async def scope_of(request: web.Request) -> dict[str, Any]:
    """The signed-in staff member's scope (storage/scope.py: the one rule), looked up once
    per request; a copy, so a caller cannot change another's."""
    if SCOPE not in request:
        request[SCOPE] = await staff_scope(request.config_dict[keys.MONGO], request[STAFF])
    return dict(request[SCOPE])


async def communities_in_scope(request: web.Request) -> list[tuple[str, str]]:
    """(id, name) of the communities within the signed-in staff member's scope, for a select."""
    scope = await scope_of(request)
    return [(cid, name) for cid, name in (await community_names(request)).items() if in_scope(scope, cid)]


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
