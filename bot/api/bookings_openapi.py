"""The OpenAPI fragment of bot.api.bookings (预约, waitlist, resident links)."""
from __future__ import annotations

from typing import Any

from bot.api import PREFIX
from storage.booking_catalog import SERVICE_CODES

RELATIONS = ("family", "volunteer")  # bot.api.bookings checks against this one


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _errors(*codes: str) -> dict[str, Any]:
    known = {"400": "BadRequest", "401": "Unauthorized", "403": "Forbidden", "404": "NotFound",
             "413": "PayloadTooLarge", "429": "RateLimited"}
    out: dict[str, Any] = {code: {"$ref": f"#/components/responses/{known[code]}"} for code in codes if code in known}
    if "409" in codes:
        out["409"] = _ok("不能办理（已约满 full、重复预约 duplicate、来不及 too_soon、超出可约范围 too_far、"
                         "已停止预约 closed、已过取消时间 too_late、名额已过期 offer_gone ……），message 是给用户看的说明",
                         _ref("Error"))
    return out


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


_PATH_ID = {"in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"}}
_FOR = {"name": "for", "in": "query", "required": False, "schema": {"type": "string"},
        "description": "替已绑定的老人查看时填老人的 resident id"}

OPENAPI: dict[str, Any] = {
    f"{PREFIX}/services": {"get": {
        "tags": ["bookings"], "summary": "本社区可预约的服务（含我能否预约）", "operationId": "listServices",
        "parameters": [_FOR],
        "responses": {"200": _ok("服务列表", {"type": "object", "properties": {
            "services": {"type": "array", "items": _ref("BookableService")}}}), **_errors("401", "403", "429")},
    }},
    f"{PREFIX}/services/{{code}}/slots": {"get": {
        "tags": ["bookings"], "summary": "服务的可预约时段（含已满的，可排队候补）", "operationId": "listSlots",
        "parameters": [
            {"name": "code", "in": "path", "required": True, "schema": {"type": "string", "enum": list(SERVICE_CODES)}},
            {"name": "date", "in": "query", "required": False, "schema": {"type": "string", "format": "date"}},
            {"name": "days", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "maximum": 31}},
            _FOR,
        ],
        "responses": {"200": _ok("时段", {"type": "object", "properties": {
            "service": _ref("BookableService"), "slots": {"type": "array", "items": _ref("Slot")},
            "pickup_dates": {"type": "array", "items": {"type": "string", "format": "date"},
                             "description": "辅具租赁可领取的日期"}}}),
            **_errors("400", "401", "403", "404", "429")},
    }},
    f"{PREFIX}/bookings": {
        "get": {"tags": ["bookings"], "summary": "我的预约、候补名额和排队", "operationId": "myBookings",
                "responses": {"200": _ok("我的预约", _ref("MyBookings")), **_errors("401", "429")}},
        "post": {"tags": ["bookings"], "summary": "预约（约满时可排队候补）", "operationId": "book",
                 "requestBody": _body(_ref("BookingRequest")),
                 "responses": {"201": _ok("预约成功", {"type": "object", "properties": {
                     "status": {"type": "string", "enum": ["booked"]}, "booking": _ref("Booking")}}),
                     "202": _ok("已约满，已排队候补", {"type": "object", "properties": {
                         "status": {"type": "string", "enum": ["waitlisted"]}, "waitlist": _ref("WaitlistEntry")}}),
                     **_errors("400", "401", "403", "404", "409", "413", "429")}},
    },
    f"{PREFIX}/bookings/{{booking_id}}/cancel": {"post": {
        "tags": ["bookings"], "summary": "取消预约（须在取消截止时间前）", "operationId": "cancelBooking",
        "parameters": [{"name": "booking_id", **_PATH_ID}],
        "requestBody": {"required": False, "content": {"application/json": {"schema": {
            "type": "object", "additionalProperties": False,
            "properties": {"reason": {"type": "string", "maxLength": 100}}}}}},
        "responses": {"200": _ok("已取消", {"type": "object", "properties": {"booking": _ref("Booking")}}),
                      **_errors("400", "401", "404", "409", "413", "429")},
    }},
    f"{PREFIX}/waitlist/{{entry_id}}/accept": {"post": {
        "tags": ["bookings"], "summary": "确认候补到的名额", "operationId": "acceptOffer",
        "parameters": [{"name": "entry_id", **_PATH_ID}],
        "responses": {"201": _ok("预约成功", {"type": "object", "properties": {"booking": _ref("Booking")}}),
                      **_errors("401", "404", "409", "429")},
    }},
    f"{PREFIX}/waitlist/{{entry_id}}/decline": {"post": {
        "tags": ["bookings"], "summary": "放弃候补名额或退出排队", "operationId": "declineOffer",
        "parameters": [{"name": "entry_id", **_PATH_ID}],
        "responses": {"200": _ok("已放弃", {"type": "object", "properties": {"waitlist": _ref("WaitlistEntry")}}),
                      **_errors("401", "404", "409", "429")},
    }},
    f"{PREFIX}/resident-links": {
        "get": {"tags": ["bookings"], "summary": "我的家人/志愿者绑定", "operationId": "listLinks",
                "responses": {"200": _ok("绑定", {"type": "object", "properties": {
                    "links": {"type": "array", "items": _ref("ResidentLink")}}}), **_errors("401", "429")}},
        "post": {"tags": ["bookings"], "summary": "申请替老人预约：得到6位验证码，请老人输入确认", "operationId": "requestLink",
                 "requestBody": _body({"type": "object", "additionalProperties": False, "required": ["relation"],
                                       "properties": {"relation": {"type": "string", "enum": list(RELATIONS)},
                                                      "label": {"type": "string", "maxLength": 12, "example": "妈妈"}}}),
                 "responses": {"201": _ok("已生成验证码（24小时有效）", {"type": "object", "properties": {
                     "link": _ref("ResidentLink")}}), **_errors("400", "401", "413", "429")}},
    },
    f"{PREFIX}/resident-links/confirm": {"post": {
        "tags": ["bookings"], "summary": "老人输入家人给的验证码，确认绑定", "operationId": "confirmLink",
        "requestBody": _body({"type": "object", "additionalProperties": False, "required": ["code"],
                              "properties": {"code": {"type": "string", "pattern": "^\\d{6}$"}}}),
        "responses": {"200": _ok("已绑定", {"type": "object", "properties": {"link": _ref("ResidentLink")}}),
                      **_errors("400", "401", "413", "429")},
    }},
    f"{PREFIX}/resident-links/{{link_id}}": {"delete": {
        "tags": ["bookings"], "summary": "解除绑定（双方都可以）", "operationId": "revokeLink",
        "parameters": [{"name": "link_id", **_PATH_ID}],
        "responses": {"204": {"description": "已解除"}, **_errors("401", "404", "429")},
    }},
}

_DT = {"type": "string", "format": "date-time", "nullable": True}
OPENAPI_COMPONENTS: dict[str, Any] = {"schemas": {
    "BookableService": {"type": "object", "properties": {
        "code": {"type": "string", "enum": list(SERVICE_CODES)}, "name": {"type": "string"},
        "description": {"type": "string"}, "location": {"type": "string"}, "community": {"type": "string"},
        "kind": {"type": "string", "enum": ["session", "rental"]}, "for_whom": {"type": "string"},
        "window_days": {"type": "integer"}, "min_notice_minutes": {"type": "integer"},
        "cancel_cutoff_minutes": {"type": "integer"}, "loan_days": {"type": "integer"},
        "eligible": {"type": "boolean"}, "ineligible_reason": {"type": "string", "nullable": True}}},
    "Slot": {"type": "object", "properties": {
        "id": {"type": "string"}, "service": {"type": "string"}, "start": _DT, "end": _DT,
        "title": {"type": "string", "nullable": True}, "unit": {"type": "string", "nullable": True},
        "capacity": {"type": "integer"}, "free": {"type": "integer"}, "status": {"type": "string"}}},
    "BookingRequest": {"type": "object", "additionalProperties": False, "required": ["slot_id"], "properties": {
        "slot_id": {"type": "string"}, "for_resident_id": {"type": "string", "description": "替已绑定的老人预约"},
        "waitlist": {"type": "boolean", "default": False, "description": "约满时排队候补"},
        "pickup_date": {"type": "string", "format": "date", "description": "辅具租赁的领取日期"}}},
    "Booking": {"type": "object", "properties": {
        "id": {"type": "string"}, "booking_no": {"type": "string", "example": "20481735"},
        "service": {"type": "string"}, "service_name": {"type": "string"}, "title": {"type": "string", "nullable": True},
        "unit": {"type": "string", "nullable": True}, "location": {"type": "string", "nullable": True},
        "start": _DT, "end": _DT, "status": {"type": "string", "enum": ["booked", "cancelled", "returned"]},
        "attendance": {"type": "string", "enum": ["attended", "no_show"], "nullable": True},
        "for_resident_id": {"type": "string"}, "for_me": {"type": "boolean"},
        "cancel_reason": {"type": "string", "nullable": True}, "created_at": _DT}},
    "WaitlistEntry": {"type": "object", "properties": {
        "id": {"type": "string"}, "service": {"type": "string"}, "service_name": {"type": "string"},
        "slot_id": {"type": "string"}, "start": _DT, "title": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": ["waiting", "offered", "accepted", "declined", "expired", "cancelled"]},
        "position": {"type": "integer", "nullable": True}, "offer_expires_at": _DT,
        "for_resident_id": {"type": "string"}}},
    "MyBookings": {"type": "object", "properties": {
        "bookings": {"type": "array", "items": _ref("Booking")},
        "offers": {"type": "array", "items": _ref("WaitlistEntry")},
        "waiting": {"type": "array", "items": _ref("WaitlistEntry")}}},
    "ResidentLink": {"type": "object", "properties": {
        "id": {"type": "string"}, "role": {"type": "string", "enum": ["helper", "elder"]},
        "relation": {"type": "string", "enum": list(RELATIONS)}, "label": {"type": "string", "nullable": True},
        "status": {"type": "string", "enum": ["pending", "confirmed"]},
        "other_resident_id": {"type": "string", "nullable": True}, "other_name": {"type": "string", "nullable": True},
        "code": {"type": "string", "description": "仅申请方、待确认时返回"}, "code_expires_at": _DT,
        "created_at": _DT}},
}}
