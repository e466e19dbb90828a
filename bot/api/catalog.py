"""Public catalog reads: GET /api/v1/communities (for the profile's community picker)."""
from __future__ import annotations

from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import public
from storage.communities import CommunityRepository

routes = web.RouteTableDef()


@routes.get(f"{PREFIX}/communities")
@public
async def communities(request: web.Request) -> web.Response:
    db = request.config_dict[keys.MONGO]
    streets = {doc["_id"]: doc.get("name") async for doc in db["streets"].find({}, {"name": 1})}
    items = [
        {"id": doc["_id"], "name": doc.get("name"), "street": doc.get("street"),
         "street_name": streets.get(doc.get("street"))}
        for doc in await CommunityRepository(db).all()
    ]
    return json_response({"communities": items})


OPENAPI: dict[str, Any] = {
    f"{PREFIX}/communities": {
        "get": {
            "tags": ["catalog"],
            "summary": "社区列表（公开）",
            "operationId": "listCommunities",
            "security": [],
            "responses": {
                "200": {
                    "description": "全部社区",
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"communities": {"type": "array", "items": {
                            "$ref": "#/components/schemas/Community"}}},
                    }}},
                },
                "429": {"$ref": "#/components/responses/RateLimited"},
            },
        }
    }
}

OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Community": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "example": "huafu-tianmian"},
                "name": {"type": "string", "example": "田面社区"},
                "street": {"type": "string", "example": "huafu"},
                "street_name": {"type": "string", "nullable": True, "example": "华富街道"},
            },
        }
    }
}
