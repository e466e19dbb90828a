"""GET /privacy/export/{token}: the one-time JSON export link `bot/privacy_chat.py` gives in chat."""
from __future__ import annotations

import re

from aiohttp import web

from bot import keys
from bot.api import dumps
from bot.errors import ApiError
from bot.privacy_chat import EXPORT_KEY, ISSUED_KEY, _digest
from storage.personal_data import export_resident, resident_for_identity

routes = web.RouteTableDef()


@routes.get("/privacy/export/{token}")
async def fetch_export(request: web.Request) -> web.Response:
    """The JSON export behind a one-time link: answers once, within EXPORT_TTL."""
    token = request.match_info["token"]
    redis = request.app[keys.REDIS]
    user_key = None
    if re.fullmatch(r"[\w\-]{16,64}", token):
        digest = _digest(token)
        user_key = await redis.getdel(EXPORT_KEY.format(value=digest))
    if not user_key:
        raise ApiError(404, "export_link_invalid", "下载链接无效、已过期或已经用过，请在聊天里重新说“导出我的数据”",
                       "unknown, expired or used export token")
    issued_key = ISSUED_KEY.format(user_key=user_key)
    if await redis.get(issued_key) == digest:
        await redis.delete(issued_key)
    resident = await resident_for_identity(request.app[keys.MONGO], user_key)
    data = await export_resident(request.app[keys.MONGO], resident)
    return web.Response(
        text=dumps(data), content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="linli-my-data.json"', "Cache-Control": "no-store"},
    )
