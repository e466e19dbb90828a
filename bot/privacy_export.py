"""GET /privacy/export/{token}: the one-time JSON export link `bot/privacy_chat.py` gives in chat."""
from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.api import dumps
from bot.errors import ApiError

routes = web.RouteTableDef()


@routes.get("/privacy/export/{token}")
async def fetch_export(request: web.Request) -> web.Response:
    """The JSON export behind a one-time link: answers once, within EXPORT_TTL."""
    privacy = request.app[keys.PRIVACY]
    user_key = await privacy.redeem_export(request.match_info["token"])
    if not user_key:
        raise ApiError(404, "export_link_invalid", "下载链接无效、已过期或已经用过，请在聊天里重新说“导出我的数据”",
                       "unknown, expired or used export token")
    data = await privacy.export(user_key)
    return web.Response(
        text=dumps(data), content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="linli-my-data.json"', "Cache-Control": "no-store"},
    )
