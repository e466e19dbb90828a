"""Strict JSON bodies for the mini-program API (every API module uses these).

- `read_object`: the body must be a UTF-8 JSON object (400 `invalid_json` /
  `invalid_body`; 413 beyond the app's `client_max_size`).
- `get_field`: one field of an exact type. A dict or list where a scalar is expected is
  always rejected, so Mongo operators ({"$gt": ""}, {"$ne": null}) never reach a query.
  Strings are stripped and length-checked. Errors are 400 with code `invalid_<name>`.
- `reject_unknown`: fields the endpoint does not know are an error, not ignored.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

from aiohttp import web

from bot.errors import ApiError
from bot.safe_input import UnsafeInput, loads_json

_MISSING: Any = object()
_KIND_ZH = {str: "字符串", int: "整数", float: "数字", bool: "true 或 false", list: "列表"}
_KIND_EN = {str: "a string", int: "an integer", float: "a number", bool: "a boolean", list: "a list"}


def json_error(exc: UnsafeInput) -> ApiError:
    """The 400 for a body `loads_json` refused."""
    return ApiError(400, "invalid_json", "请求不是有效的 JSON（格式、嵌套层数或字符不正确）", exc.reason)


async def read_json(request: web.Request) -> Any:
    """Any safe JSON value (400 otherwise; 413 beyond the app's client_max_size)."""
    raw = await request.read()
    try:
        return loads_json(raw)
    except UnsafeInput as exc:
        raise json_error(exc) from None


async def read_object(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "请求必须是 JSON 对象", "body must be a JSON object")
    return body


def invalid(name: str, zh: str, en: str) -> ApiError:
    return ApiError(400, f"invalid_{name}", f"{name}：{zh}", f"{name}: {en}")


def reject_unknown(body: dict[str, Any], allowed: Iterable[str]) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ApiError(
            400, "invalid_body", f"不支持的字段：{', '.join(unknown)}", f"unknown fields: {', '.join(unknown)}"
        )


def _check_scalar(name: str, value: Any, kind: type, max_len: int | None,
                  min_value: float | None, max_value: float | None) -> Any:
    if kind is str:
        if not isinstance(value, str):
            raise invalid(name, "必须是字符串", "must be a string")
        value = value.strip()
        if "\x00" in value:
            raise invalid(name, "包含不允许的字符", "contains a NUL character")
        if max_len is not None and len(value) > max_len:
            raise invalid(name, f"最多{max_len}个字", f"at most {max_len} characters")
        return value
    if kind is bool:
        if not isinstance(value, bool):
            raise invalid(name, "必须是 true 或 false", "must be a boolean")
        return value
    if kind is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(name, "必须是整数", "must be an integer")
    elif kind is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise invalid(name, "必须是数字", "must be a number")
        value = float(value)
    else:
        raise TypeError(f"unsupported field kind {kind!r}")
    if min_value is not None and value < min_value:
        raise invalid(name, f"不能小于{min_value}", f"must be >= {min_value}")
    if max_value is not None and value > max_value:
        raise invalid(name, f"不能大于{max_value}", f"must be <= {max_value}")
    return value


def get_field(
    body: dict[str, Any],
    name: str,
    kind: type = str,
    required: bool = True,
    max_len: int | None = None,
    choices: Iterable[Any] | None = None,
    default: Any = None,
    *,
    nullable: bool = False,
    min_value: float | None = None,
    max_value: float | None = None,
    item_kind: type = str,
    max_items: int = 100,
) -> Any:
    """The validated value of `body[name]`.

    Missing (or null when not `nullable`): `default`, or 400 when `required`. A string
    that is empty after stripping counts as missing. For `kind=list`, every item must be
    of `item_kind` (a scalar) and `max_len` applies to string items.
    """
    value = body.get(name, _MISSING)
    if value is None and nullable:
        return None
    if value is _MISSING or value is None or (isinstance(value, str) and kind is str and not value.strip()):
        if required:
            raise invalid(name, "必须填写", "is required")
        return default
    if kind is list:
        if not isinstance(value, list):
            raise invalid(name, "必须是列表", "must be a list")
        if len(value) > max_items:
            raise invalid(name, f"最多{max_items}项", f"at most {max_items} items")
        items = [_check_scalar(name, item, item_kind, max_len, min_value, max_value) for item in value]
        if choices is not None:
            allowed = set(choices)
            if any(item not in allowed for item in items):
                raise invalid(name, "包含不支持的取值", "contains a value that is not allowed")
        return items
    if isinstance(value, (dict, list)):
        raise invalid(name, f"必须是{_KIND_ZH.get(kind, '单个值')}", f"must be {_KIND_EN.get(kind, 'a scalar')}")
    value = _check_scalar(name, value, kind, max_len, min_value, max_value)
    if choices is not None and value not in set(choices):
        raise invalid(name, "不是支持的取值", "is not one of the allowed values")
    return value
