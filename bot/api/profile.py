"""The resident's own profile and PIPL rights.

GET /api/v1/me            view the profile
PATCH /api/v1/me          correct it (only the fields sent; null clears a field)
GET /api/v1/me/export     everything we hold about them, as JSON (storage.personal_data)
DELETE /api/v1/me         delete the account: conversations deleted, personal fields
                          erased everywhere, records of other capabilities kept without
                          the person; every session token ends.
"""
from __future__ import annotations

from aiohttp import web

from bot import keys
from bot.api import PREFIX, dumps, json_response
from bot.api.auth import current_resident
from bot.api.models.base import invalid
from bot.json_body import read_json
from bot.api.models.profile import Export, Profile, ProfileUpdate
from bot.api.spec import TOO_LARGE, operations
from bot.errors import ApiError
from storage.residents import Resident

routes = web.RouteTableDef()
op = operations("profile")


async def profile_of(request: web.Request, resident: Resident) -> Profile:
    community = await request.config_dict[keys.RESIDENTS].community(resident.community)
    return Profile(
        id=resident.id, community=resident.community,
        community_name=community.get("name") if community else None,
        name=resident.name, phone=resident.phone, building=resident.building, birth_year=resident.birth_year,
        disability=resident.disability, created_at=resident.created_at,
    )


@routes.get(f"{PREFIX}/me")
@op("getProfile", "查看我的资料", answers={200: (Profile, "我的资料")})
async def get_me(request: web.Request) -> web.Response:
    return json_response(await profile_of(request, current_resident(request)))


@routes.patch(f"{PREFIX}/me")
@op("updateProfile", "更正我的资料（只改传入的字段，null 表示清除）", body=ProfileUpdate,
    answers={200: (Profile, "修改后的资料"), 413: TOO_LARGE})
async def patch_me(request: web.Request) -> web.Response:
    resident = current_resident(request)
    changes = ProfileUpdate.parse_body(await read_json(request)).changes()
    if not changes:
        raise ApiError(400, "invalid_body", "没有要修改的内容", "send at least one field")
    if "community" in changes and not await request.config_dict[keys.RESIDENTS].community_exists(
            changes["community"]):
        raise invalid("community", "没有这个社区", "unknown community id")
    updated = await request.config_dict[keys.RESIDENTS].update_profile(resident.id, **changes)
    if updated is None:  # deleted meanwhile
        raise ApiError(401, "unauthorized", "请先登录", "the account no longer exists")
    return json_response(await profile_of(request, updated))


@routes.get(f"{PREFIX}/me/export")
@op("exportProfile", "导出我的全部个人信息（JSON）", answers={200: (Export, "我的数据")})
async def export_me(request: web.Request) -> web.Response:
    data = await request.config_dict[keys.PERSONAL_DATA].export(current_resident(request))
    return web.Response(
        text=dumps(Export(**data)),
        content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="linli-my-data.json"'},
    )


@routes.delete(f"{PREFIX}/me")
@op("deleteProfile", "注销账号并删除个人信息（工单等记录保留但不再关联到人）",
    answers={204: {"description": "已删除，令牌全部失效"}})
async def delete_me(request: web.Request) -> web.Response:
    await request.config_dict[keys.PERSONAL_DATA].erase(current_resident(request))
    return web.Response(status=204)
