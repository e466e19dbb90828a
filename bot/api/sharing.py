"""共享社区 for the mini-program: items and skills, borrowing, help requests.

Everything is scoped to the resident's own community. Posts and help requests pass the
content check (422 `content_*` with the reason in `message`).

GET    /api/v1/sharing/posts?q=梯子          search (or the newest) in my community
POST   /api/v1/sharing/posts                 share an item or skill
GET    /api/v1/sharing/posts/mine            what I shared
GET    /api/v1/sharing/posts/{id}            one post
DELETE /api/v1/sharing/posts/{id}            withdraw my post
POST   /api/v1/sharing/posts/{id}/borrow     ask to borrow, with dates (or join the waiting list)
POST   /api/v1/sharing/posts/{id}/report     report a post to staff
GET    /api/v1/sharing/loans?role=owner|borrower
POST   /api/v1/sharing/loans/{id}/{action}   accept | decline | hand-over | return (owner), cancel (borrower)
GET    /api/v1/help-requests                 open requests of my community
POST   /api/v1/help-requests                 ask neighbours for help
GET    /api/v1/help-requests/mine            mine and the ones I took
POST   /api/v1/help-requests/{id}/{action}   take | complete | cancel | report
"""
from __future__ import annotations

import re
from datetime import date
from typing import Any

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import current_resident
from bot.api.spec import BAD_REQUEST, COMMON, error, ok
from bot.api.validation import get_field, invalid, read_object, reject_unknown
from bot.errors import ApiError
from bot.safe_input import parse_day
from services.sharing import HELP_KINDS, SharingService
from storage.sharing import GIVE, ITEM, LEND, SKILL, HelpRequest, Loan, Post

routes = web.RouteTableDef()
_ID = re.compile(r"[0-9a-f]{24}")
_PHOTO = re.compile(r"(https://|cloud://)\S{1,490}")
LOAN_ACTIONS = ("accept", "decline", "hand-over", "return", "cancel")
HELP_ACTIONS = ("take", "complete", "cancel", "report")


def _service(request: web.Request) -> SharingService:
    return request.config_dict[keys.SHARING]


def _path_id(request: web.Request, name: str = "id") -> str:
    value = request.match_info[name]
    if not _ID.fullmatch(value):
        raise ApiError(404, "not_found", "找不到这条记录", f"{name} is not a valid id")
    return value


def post_json(post: Post, resident_id: str) -> dict[str, Any]:
    return {
        "id": post.id, "kind": post.kind, "mode": post.mode, "title": post.title, "condition": post.condition,
        "availability": post.availability, "description": post.description, "state": post.state,
        "state_title": post.state_title, "mine": post.owner_id == resident_id, "created_at": post.created_at,
        "photo_url": (post.photo or {}).get("url"),
    }


def loan_json(loan: Loan, resident_id: str) -> dict[str, Any]:
    return {
        "id": loan.id, "post_id": loan.post_id, "post_title": loan.post_title, "start": loan.start, "end": loan.end,
        "state": loan.state, "state_title": loan.state_title, "note": loan.note,
        "role": "owner" if loan.owner_id == resident_id else "borrower", "created_at": loan.created_at,
        "handed_over_at": loan.handed_over_at, "returned_at": loan.returned_at,
    }


def help_json(found: HelpRequest, resident_id: str) -> dict[str, Any]:
    role = "requester" if found.requester_id == resident_id else ("volunteer" if found.volunteer_id == resident_id else None)
    return {
        "id": found.id, "kind": found.kind, "kind_title": found.kind_title, "details": found.details,
        "when": found.when, "place": found.place, "state": found.state, "state_title": found.state_title,
        "role": role, "created_at": found.created_at, "completed_at": found.completed_at,
    }


def _date(body: dict[str, Any], name: str) -> date:
    raw = get_field(body, name, str, max_len=10)
    try:
        return parse_day(raw)
    except ValueError:
        raise invalid(name, "日期格式应为 YYYY-MM-DD", "must be a date YYYY-MM-DD") from None


# -- posts ---------------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/sharing/posts")
async def search_posts(request: web.Request) -> web.Response:
    resident = current_resident(request)
    query = request.query.get("q", "").strip()
    if len(query) > 40:
        raise invalid("q", "最多40个字", "at most 40 characters")
    posts = await _service(request).search(resident, query, 20)
    return json_response({"posts": [post_json(p, resident.id) for p in posts]})


@routes.post(f"{PREFIX}/sharing/posts")
async def create_post(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_object(request)
    reject_unknown(body, {"kind", "mode", "title", "condition", "availability", "description", "photo_url"})
    kind = get_field(body, "kind", str, choices=(ITEM, SKILL))
    mode = get_field(body, "mode", str, required=False, default=LEND, choices=(LEND, GIVE))
    title = get_field(body, "title", str, max_len=40)
    condition = get_field(body, "condition", str, required=False, default="", max_len=40)
    availability = get_field(body, "availability", str, required=False, default="", max_len=60)
    description = get_field(body, "description", str, required=False, default="", max_len=300)
    photo_url = get_field(body, "photo_url", str, required=False, max_len=500)
    if photo_url is not None and not _PHOTO.fullmatch(photo_url):
        raise invalid("photo_url", "必须是 https:// 或 cloud:// 地址", "must be an https:// or cloud:// URL")
    post = await _service(request).share(
        resident, kind=kind, mode=mode, title=title, condition=condition, availability=availability,
        description=description, photo={"source": "mp", "url": photo_url} if photo_url else None)
    return json_response(post_json(post, resident.id), status=201)


@routes.get(f"{PREFIX}/sharing/posts/mine")
async def my_posts(request: web.Request) -> web.Response:
    resident = current_resident(request)
    posts = await _service(request).posts_of(resident.id, 50)
    return json_response({"posts": [post_json(p, resident.id) for p in posts]})


@routes.get(r"/api/v1/sharing/posts/{id:[^/]+}")
async def get_post(request: web.Request) -> web.Response:
    resident = current_resident(request)
    post = await _service(request).visible_post(resident, _path_id(request))
    return json_response(post_json(post, resident.id))


@routes.delete(r"/api/v1/sharing/posts/{id:[^/]+}")
async def withdraw_post(request: web.Request) -> web.Response:
    resident = current_resident(request)
    post = await _service(request).withdraw(resident, _path_id(request))
    return json_response(post_json(post, resident.id))


@routes.post(r"/api/v1/sharing/posts/{id:[^/]+}/borrow")
async def borrow(request: web.Request) -> web.Response:
    resident = current_resident(request)
    post_id = _path_id(request)
    body = await read_object(request)
    reject_unknown(body, {"start", "end", "note"})
    start, end = _date(body, "start"), _date(body, "end")
    note = get_field(body, "note", str, required=False, default="", max_len=100)
    result = await _service(request).request_borrow(resident, post_id, start, end, note)
    return json_response({**loan_json(result.loan, resident.id), "waiting_position": result.waiting_position},
                         status=201)


@routes.post(r"/api/v1/sharing/posts/{id:[^/]+}/report")
async def report_post(request: web.Request) -> web.Response:
    resident = current_resident(request)
    post_id = _path_id(request)
    body = await read_object(request)
    reject_unknown(body, {"reason"})
    reason = get_field(body, "reason", str, max_len=200)
    new = await _service(request).report(resident, "post", post_id, reason)
    return json_response({"reported": True, "new": new})


# -- loans ---------------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/sharing/loans")
async def list_loans(request: web.Request) -> web.Response:
    resident = current_resident(request)
    role = request.query.get("role", "borrower")
    if role not in ("owner", "borrower"):
        raise invalid("role", "只能是 owner 或 borrower", "must be owner or borrower")
    loans = await _service(request).loans_for(resident.id, role, limit=50)
    return json_response({"loans": [loan_json(loan, resident.id) for loan in loans]})


@routes.post(r"/api/v1/sharing/loans/{id:[^/]+}/{action:[a-z\-]+}")
async def loan_action(request: web.Request) -> web.Response:
    resident = current_resident(request)
    loan_id, action = _path_id(request), request.match_info["action"]
    if action not in LOAN_ACTIONS:
        raise ApiError(404, "not_found", "不支持这个操作", f"unknown action {action}")
    service = _service(request)
    if action == "accept":
        loan = await service.accept(resident, loan_id)
    elif action == "decline":
        loan = await service.decline(resident, loan_id)
    elif action == "hand-over":
        loan = await service.hand_over(resident, loan_id)
    elif action == "return":
        loan, _ = await service.mark_returned(resident, loan_id)
    else:
        loan = await service.cancel(resident, loan_id)
    return json_response(loan_json(loan, resident.id))


# -- help requests -----------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/help-requests")
async def open_helps(request: web.Request) -> web.Response:
    resident = current_resident(request)
    helps = await _service(request).open_helps(resident, 30)
    return json_response({"help_requests": [help_json(h, resident.id) for h in helps]})


@routes.post(f"{PREFIX}/help-requests")
async def create_help(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_object(request)
    reject_unknown(body, {"kind", "details", "when", "place"})
    kind = get_field(body, "kind", str, choices=tuple(HELP_KINDS))
    details = get_field(body, "details", str, max_len=200)
    when = get_field(body, "when", str, max_len=40)
    place = get_field(body, "place", str, required=False, default="", max_len=60)
    found = await _service(request).ask_help(resident, kind=kind, details=details, when=when, place=place)
    return json_response(help_json(found, resident.id), status=201)


@routes.get(f"{PREFIX}/help-requests/mine")
async def my_helps(request: web.Request) -> web.Response:
    resident = current_resident(request)
    sharing = _service(request)
    mine = await sharing.helps_of(resident.id, "requester", limit=50)
    taken = await sharing.helps_of(resident.id, "volunteer", limit=50)
    return json_response({"help_requests": [help_json(h, resident.id) for h in mine + taken]})


@routes.post(r"/api/v1/help-requests/{id:[^/]+}/{action:[a-z]+}")
async def help_action(request: web.Request) -> web.Response:
    resident = current_resident(request)
    help_id, action = _path_id(request), request.match_info["action"]
    if action not in HELP_ACTIONS:
        raise ApiError(404, "not_found", "不支持这个操作", f"unknown action {action}")
    service = _service(request)
    if action == "report":
        body = await read_object(request)
        reject_unknown(body, {"reason"})
        new = await service.report(resident, "help", help_id, get_field(body, "reason", str, max_len=200))
        return json_response({"reported": True, "new": new})
    if action == "take":
        found = await service.take_help(resident, help_id)
    elif action == "complete":
        found = await service.complete_help(resident, help_id)
    else:
        found = await service.cancel_help(resident, help_id)
    return json_response(help_json(found, resident.id))


# -- OpenAPI ---------------------------------------------------------------------------------------



def _op(tag: str, summary: str, op_id: str, responses: dict[str, Any], body: str | None = None,
        params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {"tags": [tag], "summary": summary, "operationId": op_id,
                                 "responses": {**responses, **COMMON}}
    if body:
        operation["requestBody"] = {"required": True, "content": {
            "application/json": {"schema": {"$ref": f"#/components/schemas/{body}"}}}}
    if params:
        operation["parameters"] = params
    return operation


_ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"}}
_CONFLICT = {"409": error("状态不允许（如已被别人接单、已借出）")}
_NOT_FOUND = {"404": {"$ref": "#/components/responses/NotFound"}}
_REJECTED = {"422": error("内容审核未通过（content_blocked_word / content_phone_number / content_link），message 说明原因")}

OPENAPI: dict[str, Any] = {
    f"{PREFIX}/sharing/posts": {
        "get": _op("sharing", "在本社区找物品和技能（q 为关键词，如“梯子”；空则为最新）", "searchPosts", {**ok("PostList"), **BAD_REQUEST},
                   params=[{"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 40}}]),
        "post": _op("sharing", "分享物品或技能（先经内容审核）", "createPost",
                    {**ok("Post", "已发布", "201"), **_REJECTED, **BAD_REQUEST}, body="NewPost"),
    },
    f"{PREFIX}/sharing/posts/mine": {"get": _op("sharing", "我分享的", "myPosts", ok("PostList"))},
    f"{PREFIX}/sharing/posts/{{id}}": {
        "get": _op("sharing", "一条分享", "getPost", {**ok("Post"), **_NOT_FOUND}, params=[_ID_PARAM]),
        "delete": _op("sharing", "下架我的分享", "withdrawPost", {**ok("Post"), **_NOT_FOUND, **_CONFLICT},
                      params=[_ID_PARAM]),
    },
    f"{PREFIX}/sharing/posts/{{id}}/borrow": {
        "post": _op("sharing", "申请借用（东西借出中则排队，waiting_position>0）", "borrowPost",
                    {**ok("Loan", "已申请", "201"), **_NOT_FOUND, **_CONFLICT, **BAD_REQUEST}, body="BorrowRequest",
                    params=[_ID_PARAM]),
    },
    f"{PREFIX}/sharing/posts/{{id}}/report": {
        "post": _op("sharing", "举报分享内容", "reportPost", {**ok("Reported"), **_NOT_FOUND, **BAD_REQUEST}, body="ReportRequest",
                    params=[_ID_PARAM]),
    },
    f"{PREFIX}/sharing/loans": {
        "get": _op("sharing", "我的借用（role=borrower）或别人借我的（role=owner）", "listLoans", {**ok("LoanList"), **BAD_REQUEST},
                   params=[{"name": "role", "in": "query", "schema": {"type": "string", "enum": ["owner", "borrower"]}}]),
    },
    f"{PREFIX}/sharing/loans/{{id}}/{{action}}": {
        "post": _op("sharing", "处理借用：accept/decline/hand-over/return（主人），cancel（借用人）", "loanAction",
                    {**ok("Loan"), **_NOT_FOUND, **_CONFLICT},
                    params=[_ID_PARAM, {"name": "action", "in": "path", "required": True,
                                        "schema": {"type": "string", "enum": list(LOAN_ACTIONS)}}]),
    },
    f"{PREFIX}/help-requests": {
        "get": _op("help", "本社区待接的求助", "openHelpRequests", ok("HelpList")),
        "post": _op("help", "发布求助（接孩子、陪老人、买菜……，先经内容审核）", "createHelpRequest",
                    {**ok("HelpRequest", "已发布", "201"), **_REJECTED, **BAD_REQUEST}, body="NewHelpRequest"),
    },
    f"{PREFIX}/help-requests/mine": {"get": _op("help", "我的求助和我接下的", "myHelpRequests", ok("HelpList"))},
    f"{PREFIX}/help-requests/{{id}}/{{action}}": {
        "post": {**_op("help", "take 接单 / complete 求助人确认完成（帮忙者得积分）/ cancel 取消 / report 举报（需 reason）",
                       "helpAction", {**ok("HelpRequest"), **_NOT_FOUND, **_CONFLICT, **BAD_REQUEST},
                       params=[_ID_PARAM, {"name": "action", "in": "path", "required": True,
                                           "schema": {"type": "string", "enum": list(HELP_ACTIONS)}}]),
                 "requestBody": {"required": False, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/ReportRequest"}}}}},
    },
}

_TS = {"type": "string", "format": "date-time"}
OPENAPI_COMPONENTS: dict[str, Any] = {
    "schemas": {
        "NewPost": {
            "type": "object", "required": ["kind", "title"], "additionalProperties": False,
            "properties": {
                "kind": {"type": "string", "enum": [ITEM, SKILL]},
                "mode": {"type": "string", "enum": [LEND, GIVE], "default": LEND, "description": "借出或赠送（技能总是 lend）"},
                "title": {"type": "string", "maxLength": 40},
                "condition": {"type": "string", "maxLength": 40},
                "availability": {"type": "string", "maxLength": 60},
                "description": {"type": "string", "maxLength": 300},
                "photo_url": {"type": "string", "maxLength": 500, "description": "https:// 或 cloud:// 图片地址"},
            },
        },
        "Post": {
            "type": "object",
            "properties": {
                "id": {"type": "string"}, "kind": {"type": "string"}, "mode": {"type": "string"},
                "title": {"type": "string"}, "condition": {"type": "string"}, "availability": {"type": "string"},
                "description": {"type": "string"}, "state": {"type": "string", "enum": ["available", "lent", "given", "withdrawn"]},
                "state_title": {"type": "string"}, "mine": {"type": "boolean"}, "created_at": _TS,
                "photo_url": {"type": "string", "nullable": True},
            },
        },
        "PostList": {"type": "object", "properties": {"posts": {"type": "array", "items": {"$ref": "#/components/schemas/Post"}}}},
        "BorrowRequest": {
            "type": "object", "required": ["start", "end"], "additionalProperties": False,
            "properties": {"start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"},
                           "note": {"type": "string", "maxLength": 100}},
        },
        "Loan": {
            "type": "object",
            "properties": {
                "id": {"type": "string"}, "post_id": {"type": "string"}, "post_title": {"type": "string"},
                "start": {"type": "string", "format": "date"}, "end": {"type": "string", "format": "date"},
                "state": {"type": "string", "enum": ["waiting", "requested", "accepted", "declined", "handed_over",
                                                     "returned", "cancelled"]},
                "state_title": {"type": "string"}, "role": {"type": "string", "enum": ["owner", "borrower"]},
                "waiting_position": {"type": "integer"}, "created_at": _TS,
            },
        },
        "LoanList": {"type": "object", "properties": {"loans": {"type": "array", "items": {"$ref": "#/components/schemas/Loan"}}}},
        "ReportRequest": {"type": "object", "required": ["reason"], "additionalProperties": False,
                          "properties": {"reason": {"type": "string", "maxLength": 200}}},
        "Reported": {"type": "object", "properties": {"reported": {"type": "boolean"}, "new": {"type": "boolean"}}},
        "NewHelpRequest": {
            "type": "object", "required": ["kind", "details", "when"], "additionalProperties": False,
            "properties": {"kind": {"type": "string", "enum": list(HELP_KINDS)}, "details": {"type": "string", "maxLength": 200},
                           "when": {"type": "string", "maxLength": 40}, "place": {"type": "string", "maxLength": 60}},
        },
        "HelpRequest": {
            "type": "object",
            "properties": {
                "id": {"type": "string"}, "kind": {"type": "string"}, "kind_title": {"type": "string"},
                "details": {"type": "string"}, "when": {"type": "string"}, "place": {"type": "string"},
                "state": {"type": "string", "enum": ["open", "taken", "completed", "cancelled"]},
                "state_title": {"type": "string"}, "role": {"type": "string", "nullable": True}, "created_at": _TS,
            },
        },
        "HelpList": {"type": "object", "properties": {
            "help_requests": {"type": "array", "items": {"$ref": "#/components/schemas/HelpRequest"}}}},
    }
}
