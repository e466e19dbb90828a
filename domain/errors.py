"""One family of refusals: what the rules do not allow, said once for people and once for programs.

A service raises a `DomainError` subclass; the web layer maps it to HTTP in one place
(`status`), chat handlers show `zh` to the resident. `data` carries machine-readable extras
(for example `retry_after`) that an API may expose.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the rules refuse. `code` is stable for programs; `zh` is for residents and staff."""

    code: str = "refused"
    status: int = 409

    def __init__(
        self,
        code: str | None = None,
        zh: str = "",
        en: str = "",
        status: int | None = None,
        **data: Any,
    ) -> None:
        super().__init__(en or zh or (code or self.code))
        if code:
            self.code = code
        if status is not None:
            self.status = status
        self.zh = zh
        self.en = en or self.code.replace("_", " ")
        self.data = data

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.code!r}, status={self.status})"


class NotFoundError(DomainError):
    code = "not_found"
    status = 404


class ForbiddenError(DomainError):
    code = "forbidden"
    status = 403


class ConflictError(DomainError):
    code = "conflict"
    status = 409


class InvalidError(DomainError):
    code = "invalid"
    status = 400
