"""Input shapes that must be refused before anything is stored.

- JSON: nested deeper than `MAX_JSON_DEPTH` (Python's parser would raise
  RecursionError on tens of thousands of `[`), or a string holding a lone UTF-16
  surrogate (`"\\ud800"`: valid JSON, but not encodable as UTF-8, so BSON and Redis
  writes fail half-way). `loads_json` raises `UnsafeInput` for both, and for bodies that
  are not UTF-8 JSON at all.
- Dates: `parse_day` accepts YYYY-MM-DD between `MIN_YEAR` and `MAX_YEAR`, so that
  date arithmetic (`+ timedelta(days=31)`) can never overflow.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Any

MAX_JSON_DEPTH = 32
MIN_YEAR, MAX_YEAR = 2000, 2100


class UnsafeInput(ValueError):
    """The input cannot be accepted; `reason` says why (English, for the `detail`)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _too_deep(raw: str, limit: int) -> bool:
    """Bracket depth outside strings, counted without recursion."""
    depth = 0
    in_string = escaped = False
    for ch in raw:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > limit:
                return True
        elif ch in "]}":
            depth -= 1
    return False


def has_lone_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def check_strings(value: Any) -> None:
    """Raise UnsafeInput when any key or string inside `value` holds a lone surrogate."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if has_lone_surrogate(item):
                raise UnsafeInput("string contains a lone UTF-16 surrogate")
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads_json(raw: bytes, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Parse a request body; UnsafeInput for anything that is not safe UTF-8 JSON."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeInput("body is not valid UTF-8 JSON") from None
    if _too_deep(text, max_depth):
        raise UnsafeInput(f"JSON nested deeper than {max_depth} levels")
    try:
        value = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError):
        raise UnsafeInput("body is not valid UTF-8 JSON") from None
    check_strings(value)
    return value


def parse_day(raw: str) -> date:
    """YYYY-MM-DD within MIN_YEAR..MAX_YEAR; ValueError otherwise."""
    if not isinstance(raw, str) or len(raw) != 10:
        raise ValueError("date must be YYYY-MM-DD")
    day = date.fromisoformat(raw)
    if not MIN_YEAR <= day.year <= MAX_YEAR:
        raise ValueError(f"date must be between {MIN_YEAR} and {MAX_YEAR}")
    return day
