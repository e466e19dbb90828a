"""A request's JSON body, read safely: any JSON value `loads_json` accepts (depth, lone
surrogates, size), else the 400 `invalid_json`; beyond the app's `client_max_size` aiohttp
answers 413. Used by the REST channel and the mini-program API alike."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot.errors import ApiError
from bot.safe_input import UnsafeInput, loads_json


def json_error(exc: UnsafeInput) -> ApiError:
    """The 400 for a body `loads_json` refused."""
    return ApiError(400, "invalid_json", "请求不是有效的 JSON（格式、嵌套层数或字符不正确）", exc.reason)


async def read_json(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return loads_json(raw)
    except UnsafeInput as exc:
        raise json_error(exc) from None
