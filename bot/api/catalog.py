"""Public catalog reads: GET /api/v1/communities (for the profile's community picker)."""
from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import public
from bot.api.models.catalog import Communities, Community
from bot.api.spec import operations

routes = web.RouteTableDef()
op = operations("catalog")


@routes.get(f"{PREFIX}/communities")
@op("listCommunities", "社区列表（公开）", answers={200: (Communities, "全部社区")})
@public
async def communities(request: web.Request) -> web.Response:
    places = request.config_dict[keys.COMMUNITIES]
    streets = await places.street_names()
    docs = await places.all()
    return json_response(Communities(communities=[Community.of(doc, streets) for doc in docs]))
