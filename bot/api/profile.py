"""The resident's own profile and PIPL rights.

GET /api/v1/me            view the profile
PATCH /api/v1/me          correct it (only the fields sent; null clears a field)
GET /api/v1/me/export     everything we hold about them, as JSON (storage.personal_data)
DELETE /api/v1/me         delete the account: conversations deleted, personal fields
                          erased everywhere, records of other capabilities kept without
                          the person; every session token ends.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, dumps, json_response
from bot.api.auth import current_resident
from bot.api.spec import COMMON, json_body
from bot.api.validation import get_field, invalid, read_object, reject_unknown
from bot.errors import ApiError
from domain.phone import is_mobile
from storage.personal_data import erase_resident, export_resident
from storage.residents import Resident, ResidentRepository
from storage.communities import CommunityRepository

routes = web.RouteTableDef()
EDITABLE = ("name", "phone", "building", "birth_year", "community", "disability")
MIN_BIRTH_YEAR = 1900


async def profile_of(request: web.Request, resident: Resident) -> dict[str, Any]:
    community = await CommunityRepository(request.config_dict[keys.MONGO]).get(resident.community)
    return {
        "id": resident.id,
        "community": resident.community,
        "community_name": community.get("name") if community else None,
        "name": resident.name,
        "phone": resident.phone,
        "building": resident.building,
        "birth_year": resident.birth_year,
        "disability": resident.disability,
        "created_at": resident.created_at,
    }


@routes.get(f"{PREFIX}/me")
async def get_me(request: web.Request) -> web.Response:
    return json_response(await profile_of(request, current_resident(request)))


async def _changes(request: web.Request, body: dict[str, Any]) -> dict[str, Any]:
    reject_unknown(body, EDITABLE)
    if not body:
        raise ApiError(400, "invalid_body", "没有要修改的内容", "send at least one field")
    changes: dict[str, Any] = {}
    if "name" in body:
        changes["name"] = get_field(body, "name", str, max_len=32, nullable=True, required=False)
    if "phone" in body:
        phone = get_field(body, "phone", str, max_len=20, nullable=True, required=False)
        if phone is not None and not is_mobile(phone):
            raise invalid("phone", "请填写11位手机号", "must be an 11-digit mainland mobile number")
        changes["phone"] = phone
    if "building" in body:
        changes["building"] = get_field(body, "building", str, max_len=64, nullable=True, required=False)
    if "birth_year" in body:
        changes["birth_year"] = get_field(
            body, "birth_year", int, nullable=True, required=False,
            min_value=MIN_BIRTH_YEAR, max_value=datetime.now(timezone.utc).year,
        )
    if "community" in body:
        community = get_field(body, "community", str, max_len=64)
        if not await CommunityRepository(request.config_dict[keys.MONGO]).exists(community):
            raise invalid("community", "没有这个社区", "unknown community id")
        changes["community"] = community
    if "disability" in body:
        changes["disability"] = get_field(body, "disability", bool)
    return changes


@routes.patch(f"{PREFIX}/me")
async def patch_me(request: web.Request) -> web.Response:
    resident = current_resident(request)
    changes = await _changes(request, await read_object(request))
    updated = await ResidentRepository(request.config_dict[keys.MONGO]).update_profile(resident.id, **changes)
    if updated is None:  # deleted meanwhile
        raise ApiError(401, "unauthorized", "请先登录", "the account no longer exists")
    return json_response(await profile_of(request, updated))


@routes.get(f"{PREFIX}/me/export")
async def export_me(request: web.Request) -> web.Response:
    data = await export_resident(request.config_dict[keys.MONGO], current_resident(request))
    return web.Response(
        text=dumps(data),
        content_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="linli-my-data.json"'},
    )


@routes.delete(f"{PREFIX}/me")
async def delete_me(request: web.Request) -> web.Response:
    resident = current_resident(request)
    bookings = request.config_dict[keys.BOOKINGS]
    await erase_resident(request.config_dict[keys.MONGO], request.config_dict[keys.REDIS], resident,
                         before_erase=lambda r: bookings.release_for_erasure(r.id))
    await request.config_dict[keys.API_SESSIONS].revoke_owner(resident.id)
    return web.Response(status=204)




OPENAPI: dict[str, Any] = {
    f"{PREFIX}/me": {
        "get": {
            "tags": ["profile"], "summary": "查看我的资料", "operationId": "getProfile",
            "responses": {"200": json_body("Profile", "我的资料"), **COMMON},
        },
        "patch": {
            "tags": ["profile"], "summary": "更正我的资料（只改传入的字段，null 表示清除）",
            "operationId": "updateProfile",
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/ProfileUpdate"}}}},
            "responses": {
                "200": json_body("Profile", "修改后的资料"),
                "400": {"$ref": "#/components/responses/BadRequest"},
                "413": {"$ref": "#/components/responses/PayloadTooLarge"},
                **COMMON,
            },
        },
        "delete": {
            "tags": ["profile"], "summary": "注销账号并删除个人信息（工单等记录保留但不再关联到人）",
            "operationId": "deleteProfile",
            "responses": {"204": {"description": "已删除，令牌全部失效"}, **COMMON},
        },
    },
    f"{PREFIX}/me/export": {
        "get": {
            "tags": ["profile"], "summary": "导出我的全部个人信息（JSON）", "operationId": "exportProfile",
            "responses": {"200": json_body("Export", "我的数据"), **COMMON},
        }
    },
}

_NULLABLE_STR = {"type": "string", "nullable": True}
OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Profile": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "community": {"type": "string", "example": "huafu-tianmian"},
                "community_name": {**_NULLABLE_STR, "example": "田面社区"},
                "name": _NULLABLE_STR,
                "phone": {**_NULLABLE_STR, "example": "13812341234"},
                "building": {**_NULLABLE_STR, "example": "3栋"},
                "birth_year": {"type": "integer", "nullable": True, "example": 1950},
                "disability": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
            },
        },
        "ProfileUpdate": {
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "name": {**_NULLABLE_STR, "maxLength": 32},
                "phone": {**_NULLABLE_STR, "pattern": "^1[3-9][0-9]{9}$"},
                "building": {**_NULLABLE_STR, "maxLength": 64},
                "birth_year": {"type": "integer", "nullable": True, "minimum": MIN_BIRTH_YEAR},
                "community": {"type": "string", "description": "GET /api/v1/communities 中的 id"},
                "disability": {"type": "boolean"},
            },
        },
        "Export": {
            "type": "object",
            "properties": {
                "exported_at": {"type": "string", "format": "date-time"},
                "profile": {"type": "object"},
                "conversations": {"type": "array", "items": {"type": "object"}},
                "records": {"type": "object", "description": "集合名 -> 属于我的记录（含 resident_id 的集合）",
                            "additionalProperties": {"type": "array", "items": {"type": "object"}}},
            },
        },
    }
}
