"""The OpenAPI fragment of bot.api.reports (报事 / notices)."""
from __future__ import annotations

from typing import Any

from bot.api import PREFIX
from bot.api.spec import COMMON, error, json_body
from services.report_rules import MAX_DESCRIPTION, MAX_LOCATION_TEXT, MAX_PHOTOS
from storage.reports import STATUS_LABELS
from storage.routing import CATEGORIES


_TICKET_PARAM = {"name": "ticket", "in": "path", "required": True,
                 "schema": {"type": "string", "example": "R20261122-0001"}}


_CREATE_PROPS = {
    "category": {"type": "string", "enum": list(CATEGORIES), "description": "问题类别"},
    "description": {"type": "string", "maxLength": MAX_DESCRIPTION, "description": "情况描述"},
    "location_text": {"type": "string", "maxLength": MAX_LOCATION_TEXT, "example": "3栋门口"},
    "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "纬度（与 lng 一起填）"},
    "lng": {"type": "number", "minimum": -180, "maximum": 180, "description": "经度"},
}

OPENAPI: dict[str, Any] = {
    f"{PREFIX}/reports": {
        "post": {
            "tags": ["reports"], "summary": "报事：提交一个问题（可带现场照片）", "operationId": "createReport",
            "description": "同类问题在附近（或同一地点描述）已有在办工单时，不新开工单，而是关联到已有工单"
                           "（duplicate=true，report 为已有工单，own_ticket 为本次记录号）。",
            "requestBody": {"required": True, "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "required": ["category", "description"], "properties": {
                        **_CREATE_PROPS,
                        "photo": {"type": "string", "format": "binary",
                                  "description": f"JPG 或 PNG，单张不超过配置上限（默认 2MB），最多 {MAX_PHOTOS} 张"},
                    }},
                    "encoding": {"photo": {"contentType": "image/jpeg, image/png"}},
                },
                "application/json": {"schema": {"type": "object", "required": ["category", "description"],
                                                "additionalProperties": False, "properties": _CREATE_PROPS}},
            }},
            "responses": {
                "201": json_body("ReportCreated", "已提交"),
                "400": error("字段不正确，或照片不是 JPG/PNG（bad_photo_type）、是空的（empty_photo）、太多（too_many_photos）"),
                "413": error("照片太大（photo_too_large）或请求太大"),
                "415": error("请求类型不支持"),
                **COMMON,
            },
        },
        "get": {
            "tags": ["reports"], "summary": "我的报事（我提交的和我关注的），最新的在前", "operationId": "listReports",
            "parameters": [{"name": "status", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["active", "all"], "default": "active"},
                            "description": "active：在办和待确认；all：全部"}],
            "responses": {"200": {"description": "列表", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"reports": {"type": "array", "items": {
                    "$ref": "#/components/schemas/Report"}}}}}}},
                "400": {"$ref": "#/components/responses/BadRequest"}, **COMMON},
        },
    },
    f"{PREFIX}/reports/{{ticket}}": {
        "get": {
            "tags": ["reports"], "summary": "查看我的一个工单（含办理记录）", "operationId": "getReport",
            "parameters": [_TICKET_PARAM],
            "responses": {"200": json_body("Report", "工单详情"), "404": {"$ref": "#/components/responses/NotFound"},
                          **COMMON},
        }
    },
    f"{PREFIX}/reports/{{ticket}}/photos/{{index}}": {
        "get": {
            "tags": ["reports"], "summary": "工单的现场照片（仅报事人和关注人可看）", "operationId": "getReportPhoto",
            "parameters": [_TICKET_PARAM, {"name": "index", "in": "path", "required": True,
                                           "schema": {"type": "integer", "minimum": 0}}],
            "responses": {
                "200": {"description": "照片", "content": {"image/jpeg": {"schema": {"type": "string",
                                                                                  "format": "binary"}},
                                                           "image/png": {"schema": {"type": "string",
                                                                                 "format": "binary"}}}},
                "404": {"$ref": "#/components/responses/NotFound"}, **COMMON,
            },
        }
    },
    f"{PREFIX}/reports/{{ticket}}/rating": {
        "post": {
            "tags": ["reports"], "summary": "确认问题已解决并评价（1-5 星），待确认的工单随之办结",
            "operationId": "rateReport", "parameters": [_TICKET_PARAM],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "$ref": "#/components/schemas/RatingRequest"}}}},
            "responses": {
                "200": json_body("Report", "评价后的工单"),
                "400": {"$ref": "#/components/responses/BadRequest"},
                "404": {"$ref": "#/components/responses/NotFound"},
                "409": error("还没处理完（not_resolved）或已经评价过（already_rated）"),
                **COMMON,
            },
        }
    },
    f"{PREFIX}/reports/{{ticket}}/reopen": {
        "post": {
            "tags": ["reports"], "summary": "问题没有解决：退回承办部门重新处理", "operationId": "reopenReport",
            "parameters": [_TICKET_PARAM],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"note": {"type": "string", "maxLength": 200}}}}}},
            "responses": {
                "200": json_body("Report", "重新处理中的工单"),
                "400": {"$ref": "#/components/responses/BadRequest"},
                "404": {"$ref": "#/components/responses/NotFound"},
                "409": error("工单不是待确认状态"),
                **COMMON,
            },
        }
    },
    f"{PREFIX}/notices": {
        "get": {
            "tags": ["notices"], "summary": "我的消息通知（工单进度等），最新的在前", "operationId": "listNotices",
            "parameters": [{"name": "unread", "in": "query", "required": False,
                            "schema": {"type": "string", "enum": ["0", "1"], "default": "0"}}],
            "responses": {"200": {"description": "通知", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"notices": {"type": "array", "items": {
                    "$ref": "#/components/schemas/Notice"}}}}}}},
                "400": {"$ref": "#/components/responses/BadRequest"}, **COMMON},
        }
    },
    f"{PREFIX}/notices/read": {
        "post": {
            "tags": ["notices"], "summary": "标记通知已读（不传 ids 表示全部）", "operationId": "markNoticesRead",
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "additionalProperties": False,
                "properties": {"ids": {"type": "array", "items": {"type": "string"}, "maxItems": 200}}}}}},
            "responses": {"200": {"description": "标记了几条", "content": {"application/json": {"schema": {
                "type": "object", "properties": {"marked": {"type": "integer"}}}}}},
                "400": {"$ref": "#/components/responses/BadRequest"}, **COMMON},
        }
    },
}

_DT = {"type": "string", "format": "date-time"}
OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "Report": {
            "type": "object",
            "properties": {
                "ticket": {"type": "string", "example": "R20261122-0001"},
                "category": {"type": "string", "enum": list(CATEGORIES)},
                "category_name": {"type": "string", "example": "路灯不亮"},
                "status": {"type": "string", "enum": list(STATUS_LABELS)},
                "status_name": {"type": "string", "example": "处理中"},
                "department": {"type": "string"},
                "location_text": {"type": "string", "nullable": True},
                "latitude": {"type": "number", "nullable": True},
                "longitude": {"type": "number", "nullable": True},
                "description": {"type": "string"},
                "created_at": _DT,
                "due_at": {**_DT, "description": "办理时限"},
                "overdue": {"type": "boolean"},
                "duplicate_of": {"type": "string", "nullable": True},
                "mine": {"type": "boolean", "description": "true：我提交的；false：我关注的（重复反映）"},
                "rating": {"type": "object", "nullable": True, "properties": {
                    "stars": {"type": "integer"}, "comment": {"type": "string", "nullable": True}}},
                "can_rate": {"type": "boolean"},
                "photos": {"type": "array", "items": {"type": "object", "properties": {
                    "index": {"type": "integer"}, "source": {"type": "string", "enum": ["upload", "wechat"]},
                    "url": {"type": "string", "nullable": True}}}},
                "history": {"type": "array", "items": {"type": "object", "properties": {
                    "action": {"type": "string"}, "action_name": {"type": "string"},
                    "status": {"type": "string", "nullable": True}, "at": _DT,
                    "by": {"type": "string", "nullable": True, "enum": ["resident", "staff", "system", None],
                           "description": "null in the view a follower of the ticket gets (who acted is not shown)"},
                    "note": {"type": "string", "nullable": True}, "reason": {"type": "string", "nullable": True}}}},
            },
        },
        "ReportCreated": {
            "type": "object",
            "properties": {
                "report": {"$ref": "#/components/schemas/Report"},
                "duplicate": {"type": "boolean"},
                "own_ticket": {"type": "string", "description": "本次提交的记录号"},
            },
        },
        "RatingRequest": {
            "type": "object", "required": ["stars"], "additionalProperties": False,
            "properties": {"stars": {"type": "integer", "minimum": 1, "maximum": 5},
                           "comment": {"type": "string", "maxLength": 200}},
        },
        "Notice": {
            "type": "object",
            "properties": {"id": {"type": "string"}, "text": {"type": "string"},
                           "ref": {"type": "string", "nullable": True, "description": "相关工单号等"},
                           "created_at": _DT, "read": {"type": "boolean"}},
        },
    }
}
