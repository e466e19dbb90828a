"""共享社区 for the mini-program: items and skills, borrowing, help requests.

Everything is scoped to the resident's own community. Posts, borrow notes and help requests
pass the content check (422 `content_*` with the reason in `message`). The requests and
answers are the models of `bot.api.models.sharing`; `@op` declares each operation for the
OpenAPI document.

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

from aiohttp import web

from bot import keys
from bot.api import PREFIX, json_response
from bot.api.auth import current_resident
from bot.api.models.base import read_body
from bot.api.models.sharing import (
    HELP_ACTIONS, LOAN_ACTIONS, BorrowRequest, BorrowResult, HelpActionResult, HelpList, HelpRequest, Loan, LoanList,
    LoanListQuery, NewHelpRequest, NewPost, Post, PostList, ReportRequest, Reported, SharingSearchQuery,
)
from bot.api.spec import NOT_FOUND, TOO_LARGE, operations
from bot.errors import ApiError
from services.sharing import SharingService

routes = web.RouteTableDef()
op = operations("sharing")
help_op = operations("help")
_ID = re.compile(r"[0-9a-f]{24}")

_ID_PARAM = {"type": "string", "pattern": "^[0-9a-f]{24}$"}
_REJECTED = "内容审核未通过（content_blocked_word / content_phone_number / content_link），message 说明原因"


def _service(request: web.Request) -> SharingService:
    return request.config_dict[keys.SHARING]


def _path_id(request: web.Request, name: str = "id") -> str:
    value = request.match_info[name]
    if not _ID.fullmatch(value):
        raise ApiError(404, "not_found", "找不到这条记录", f"{name} is not a valid id")
    return value


# -- posts ---------------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/sharing/posts")
@op("searchPosts", "在本社区找物品和技能（q 为关键词，如“梯子”；空则为最新）", query=SharingSearchQuery,
    answers={200: PostList})
async def search_posts(request: web.Request) -> web.Response:
    resident = current_resident(request)
    query = SharingSearchQuery.parse_request(request)
    posts = await _service(request).search(resident, query.q, 20)
    return json_response(PostList(posts=[Post.of(p, resident.id) for p in posts]))


@routes.post(f"{PREFIX}/sharing/posts")
@op("createPost", "分享物品或技能（先经内容审核）", body=NewPost,
    answers={201: (Post, "已发布"), 413: TOO_LARGE, 422: _REJECTED})
async def create_post(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_body(request, NewPost)
    post = await _service(request).share(
        resident, kind=body.kind, mode=body.mode, title=body.title, condition=body.condition,
        availability=body.availability, description=body.description,
        photo={"source": "mp", "url": body.photo_url} if body.photo_url else None)
    return json_response(Post.of(post, resident.id), status=201)


@routes.get(f"{PREFIX}/sharing/posts/mine")
@op("myPosts", "我分享的", answers={200: PostList})
async def my_posts(request: web.Request) -> web.Response:
    resident = current_resident(request)
    posts = await _service(request).posts_of(resident.id, 50)
    return json_response(PostList(posts=[Post.of(p, resident.id) for p in posts]))


@routes.get(r"/api/v1/sharing/posts/{id:[^/]+}")
@op("getPost", "一条分享", path={"id": _ID_PARAM}, answers={200: Post, 404: NOT_FOUND})
async def get_post(request: web.Request) -> web.Response:
    resident = current_resident(request)
    post = await _service(request).visible_post(resident, _path_id(request))
    return json_response(Post.of(post, resident.id))


@routes.delete(r"/api/v1/sharing/posts/{id:[^/]+}")
@op("withdrawPost", "下架我的分享", path={"id": _ID_PARAM},
    answers={200: Post, 404: NOT_FOUND, 409: "东西正借出或已答应给邻居（post_busy）"})
async def withdraw_post(request: web.Request) -> web.Response:
    resident = current_resident(request)
    post = await _service(request).withdraw(resident, _path_id(request))
    return json_response(Post.of(post, resident.id))


@routes.post(r"/api/v1/sharing/posts/{id:[^/]+}/borrow")
@op("borrowPost", "申请借用（东西借出中则排队，waiting_position>0）", body=BorrowRequest, path={"id": _ID_PARAM},
    answers={201: (BorrowResult, "已申请"), 404: NOT_FOUND, 409: "已经申请过这件（already_requested）",
             413: TOO_LARGE, 422: "留言 note " + _REJECTED})
async def borrow(request: web.Request) -> web.Response:
    resident = current_resident(request)
    post_id = _path_id(request)
    body = await read_body(request, BorrowRequest)
    start, end = body.days()
    result = await _service(request).request_borrow(resident, post_id, start, end, body.note)
    answer = BorrowResult.of_result(result.loan, resident.id, result.waiting_position)
    return json_response(answer, status=201)


@routes.post(r"/api/v1/sharing/posts/{id:[^/]+}/report")
@op("reportPost", "举报分享内容", body=ReportRequest, path={"id": _ID_PARAM},
    answers={200: Reported, 404: NOT_FOUND, 413: TOO_LARGE})
async def report_post(request: web.Request) -> web.Response:
    resident = current_resident(request)
    post_id = _path_id(request)
    body = await read_body(request, ReportRequest)
    new = await _service(request).report(resident, "post", post_id, body.reason)
    return json_response(Reported(reported=True, new=new))


# -- loans ---------------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/sharing/loans")
@op("listLoans", "我的借用（role=borrower）或别人借我的（role=owner）", query=LoanListQuery, answers={200: LoanList})
async def list_loans(request: web.Request) -> web.Response:
    resident = current_resident(request)
    query = LoanListQuery.parse_request(request)
    loans = await _service(request).loans_for(resident.id, query.role, limit=50)
    return json_response(LoanList(loans=[Loan.of(loan, resident.id) for loan in loans]))


@routes.post(r"/api/v1/sharing/loans/{id:[^/]+}/{action:[a-z\-]+}")
@op("loanAction", "处理借用：accept/decline/hand-over/return（主人），cancel（借用人）",
    path={"id": _ID_PARAM, "action": {"type": "string", "enum": list(LOAN_ACTIONS)}},
    answers={200: Loan, 404: NOT_FOUND,
             409: "状态不允许（bad_state）或东西已答应借给别人（post_busy）"})
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
    return json_response(Loan.of(loan, resident.id))


# -- help requests -----------------------------------------------------------------------------------


@routes.get(f"{PREFIX}/help-requests")
@help_op("openHelpRequests", "本社区待接的求助", answers={200: HelpList})
async def open_helps(request: web.Request) -> web.Response:
    resident = current_resident(request)
    helps = await _service(request).open_helps(resident, 30)
    return json_response(HelpList(help_requests=[HelpRequest.of(h, resident.id) for h in helps]))


@routes.post(f"{PREFIX}/help-requests")
@help_op("createHelpRequest", "发布求助（接孩子、陪老人、买菜……，先经内容审核）", body=NewHelpRequest,
         answers={201: (HelpRequest, "已发布"), 413: TOO_LARGE, 422: _REJECTED})
async def create_help(request: web.Request) -> web.Response:
    resident = current_resident(request)
    body = await read_body(request, NewHelpRequest)
    found = await _service(request).ask_help(resident, kind=body.kind, details=body.details, when=body.when,
                                             place=body.place)
    return json_response(HelpRequest.of(found, resident.id), status=201)


@routes.get(f"{PREFIX}/help-requests/mine")
@help_op("myHelpRequests", "我的求助和我接下的", answers={200: HelpList})
async def my_helps(request: web.Request) -> web.Response:
    resident = current_resident(request)
    sharing = _service(request)
    mine = await sharing.helps_of(resident.id, "requester", limit=50)
    taken = await sharing.helps_of(resident.id, "volunteer", limit=50)
    return json_response(HelpList(help_requests=[HelpRequest.of(h, resident.id) for h in mine + taken]))


@routes.post(r"/api/v1/help-requests/{id:[^/]+}/{action:[a-z]+}")
@help_op("helpAction", "take 接单 / complete 求助人确认完成（帮忙者得积分）/ cancel 取消 / report 举报（需 reason）",
         description="只有 report 读请求体 {\"reason\"}，其他操作不需要请求体。",
         path={"id": _ID_PARAM, "action": {"type": "string", "enum": list(HELP_ACTIONS)}},
         body=ReportRequest, body_optional=True,
         answers={200: (HelpActionResult, "成功：report 返回 Reported，其他操作返回求助"), 404: NOT_FOUND,
                  409: "已有邻居接单（help_taken）或状态不允许（bad_state）"})
async def help_action(request: web.Request) -> web.Response:
    resident = current_resident(request)
    help_id, action = _path_id(request), request.match_info["action"]
    if action not in HELP_ACTIONS:
        raise ApiError(404, "not_found", "不支持这个操作", f"unknown action {action}")
    service = _service(request)
    if action == "report":
        body = await read_body(request, ReportRequest)
        new = await service.report(resident, "help", help_id, body.reason)
        return json_response(Reported(reported=True, new=new))
    if action == "take":
        found = await service.take_help(resident, help_id)
    elif action == "complete":
        found = await service.complete_help(resident, help_id)
    else:
        found = await service.cancel_help(resident, help_id)
    return json_response(HelpRequest.of(found, resident.id))
