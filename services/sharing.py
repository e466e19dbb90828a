"""共享社区: lend or give items and skills, borrow with dates and a waiting list, help requests.

Borrowing an item: a request is "requested" while the item is free, "waiting" while it
is promised or out. The owner accepts (the item is promised to that borrower; other
requests join the waiting list) or declines; hand-over and return are recorded by the
owner; a return hands the item to the first in the waiting list. Skills (通下水道) can
be accepted for several neighbours at once. Help requests (接孩子、陪老人、买菜) are
taken by a volunteer and completed by the requester, which publishes `help.completed`
(the points ledger credits the volunteer).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from domain.time import TZ
from domain.errors import DomainError
from services import events
from services.content_check import ContentChecker, Verdict
from services.share_search import search_terms, search_words
from services.sharing_contact import ContactRelay, display_name
from storage.sharing import (
    ACCEPTED, ACTIVE_LOANS, AVAILABLE, CANCELLED, COMPLETED, DECLINED, GIVE, GIVEN, HANDED_OVER, ITEM, LEND, LENT,
    OPEN, REQUESTED, RETURNED, SKILL, TAKEN, WAITING, WITHDRAWN, HelpRequest, Loan, Post, SharingRepository,
    ShareMessageRepository,
)

log = logging.getLogger(__name__)
HELP_COMPLETED = events.HELP_COMPLETED
MAX_LOAN_DAYS = 30
MAX_AHEAD_DAYS = 60

HELP_KINDS: dict[str, str] = {
    "pickup_child": "接孩子", "accompany_elder": "陪老人", "groceries": "买菜", "other": "其他",
}
CONDITIONS = ["全新", "九成新", "有使用痕迹，能正常用"]



class SharingError(DomainError):
    status = 409

    def __init__(self, code: str, zh: str, en: str, status: int | None = None) -> None:
        super().__init__(code, zh, en, status)


class ContentRejected(SharingError):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__(f"content_{verdict.code}", verdict.reason, f"content check failed: {verdict.code}", 422)
        self.verdict = verdict


def _not_found(what: str) -> SharingError:
    return SharingError(f"{what}_not_found", "找不到这条记录，可能已经撤下了", f"no such {what}", 404)


def today(now: datetime | None = None) -> date:
    return (now or datetime.now(timezone.utc)).astimezone(TZ).date()


@dataclass
class BorrowResult:
    loan: Loan
    waiting_position: int = 0  # 0 when not waiting


class SharingService:
    def __init__(self, repo: SharingRepository, messages: ShareMessageRepository, residents: Any,
                 checker: ContentChecker, notifier: Any = None, *, bus: events.EventBus) -> None:
        self.repo = repo
        self.residents = residents
        self.notifier = notifier
        self.checker = checker
        self.bus = bus
        self.contact = ContactRelay(messages, repo, residents, self._tell, checker)

    # -- what the web layer reads (the repository stays behind the service) ---------------
    async def posts_of(self, owner_id: str, limit: int = 20) -> list[Post]:
        return await self.repo.posts_of(owner_id, limit)

    async def loan(self, loan_id: str) -> Loan | None:
        return await self.repo.get_loan(loan_id)

    async def help_request(self, help_id: str) -> HelpRequest | None:
        return await self.repo.get_help(help_id)

    async def loans_for(self, resident_id: str, role: str, limit: int = 20) -> list[Loan]:
        return await self.repo.loans_for(resident_id, role, limit=limit)

    async def helps_of(self, resident_id: str, role: str, limit: int = 20) -> list[HelpRequest]:
        return await self.repo.helps_of(resident_id, role, limit=limit)

    async def posts_in_scope(self, scope: dict[str, Any], *, reported_only: bool = False) -> list[Post]:
        return await self.repo.list_posts(scope, reported_only=reported_only)

    async def helps_in_scope(self, scope: dict[str, Any], *, reported_only: bool = False) -> list[HelpRequest]:
        return await self.repo.list_helps(scope, reported_only=reported_only)

    async def loans_in_scope(self, scope: dict[str, Any], limit: int = 100) -> list[Loan]:
        return await self.repo.list_loans(scope, limit=limit)

    async def set_hidden(self, kind: str, record_id: str, hidden: bool, reason: str | None, staff_id: str,
                         scope: dict[str, Any]) -> Any:
        """Staff hide (or show again) a post or help request; returns the record before."""
        return await self.repo.set_hidden(kind, record_id, hidden, reason, staff_id, scope)


    async def ensure_indexes(self) -> None:
        await self.repo.ensure_indexes()

    async def check(self, *texts: str | None) -> None:
        verdict = await self.checker.check(*texts)
        if not verdict.ok:
            raise ContentRejected(verdict)

    # -- posts -----------------------------------------------------------------------

    async def share(self, resident: Any, *, kind: str, mode: str, title: str, condition: str = "",
                    availability: str = "", description: str = "", photo: dict[str, Any] | None = None) -> Post:
        """Publish an item or skill after the content check."""
        title = (title or "").strip()
        if kind not in (ITEM, SKILL) or mode not in (LEND, GIVE):
            raise SharingError("invalid_kind", "请选择物品或技能、借出或赠送", "kind/mode invalid", 400)
        if not 1 <= len(title) <= 40:
            raise SharingError("invalid_title", "名称请写1到40个字", "title must be 1-40 characters", 400)
        if kind == SKILL:
            mode, condition = LEND, ""
        await self.check(title, description, availability, condition)
        return await self.repo.add_post(
            owner_id=resident.id, community=resident.community, kind=kind, mode=mode, title=title,
            condition=condition.strip()[:40], availability=availability.strip()[:60],
            description=description.strip()[:300], photo=photo,
        )

    async def search(self, resident: Any, text: str, limit: int = 8) -> list[Post]:
        words = search_words(text)
        if not words:
            return await self.repo.recent_posts(resident.community, limit)
        return await self.repo.search(resident.community, words, limit, related=search_terms(text))

    async def visible_post(self, resident: Any, post_id: str) -> Post:
        post = await self.repo.get_post(post_id)
        if post is None or post.hidden or post.community != resident.community or post.state in (WITHDRAWN, GIVEN):
            raise _not_found("post")
        return post

    async def withdraw(self, resident: Any, post_id: str) -> Post:
        post = await self.repo.get_post(post_id)
        if post is None or post.owner_id != resident.id:
            raise _not_found("post")
        done = await self.repo.set_post_state(post_id, [AVAILABLE], WITHDRAWN)
        if done is None:
            raise SharingError("post_busy", "东西正借出或已答应给邻居，等归还后再下架", "post is lent or promised")
        for loan in await self.repo.loans_of_post(post_id, [WAITING, REQUESTED]):
            if await self.repo.move_loan(loan.id, [WAITING, REQUESTED], DECLINED, reason="withdrawn"):
                await self._tell(loan.borrower_id, f"邻居已下架“{post.title}”，您的借用申请已关闭。", f"loan:{loan.id}")
        return done

    # -- borrowing ---------------------------------------------------------------------

    async def request_borrow(self, resident: Any, post_id: str, start: date, end: date, note: str = "") -> BorrowResult:
        post = await self.visible_post(resident, post_id)
        if post.owner_id == resident.id:
            raise SharingError("own_post", "这是您自己分享的", "cannot borrow your own post", 400)
        first = today()
        if start < first or start > first + timedelta(days=MAX_AHEAD_DAYS):
            raise SharingError("invalid_start", f"开始日期要在今天到{MAX_AHEAD_DAYS}天内", "start out of range", 400)
        if end < start or (end - start).days > MAX_LOAN_DAYS:
            raise SharingError("invalid_end", f"归还日期要在开始日期之后，最多借{MAX_LOAN_DAYS}天", "end out of range", 400)
        if await self.repo.open_loan_of(post.id, resident.id):
            raise SharingError("already_requested", "您已经申请过这件了，请等邻居回复", "already requested")
        await self.check(note)
        out = post.kind == ITEM and (post.state == LENT or bool(await self.repo.loans_of_post(post.id, [ACCEPTED, HANDED_OVER])))
        loan = await self.repo.add_loan(
            post_id=post.id, post_title=post.title, owner_id=post.owner_id, borrower_id=resident.id,
            community=post.community, start=start.isoformat(), end=end.isoformat(), note=note.strip()[:100],
            state=WAITING if out else REQUESTED, kind=post.kind, mode=post.mode,
        )
        if out:
            return BorrowResult(loan, await self.queue_position(loan))
        await self._tell(post.owner_id, f"有邻居想借您的“{post.title}”（{loan.start} 至 {loan.end}）。"
                                        "回复 5 进入邻里共享，在“我的共享”里同意或婉拒。", f"loan:{loan.id}")
        return BorrowResult(loan)

    async def queue_position(self, loan: Loan) -> int:
        queue = await self.repo.loans_of_post(loan.post_id, [WAITING])
        return next((i for i, other in enumerate(queue, 1) if other.id == loan.id), 0)

    async def _owned_loan(self, resident: Any, loan_id: str) -> Loan:
        loan = await self.repo.get_loan(loan_id)
        if loan is None or loan.owner_id != resident.id:
            raise _not_found("loan")
        return loan

    async def accept(self, resident: Any, loan_id: str) -> Loan:
        loan = await self._owned_loan(resident, loan_id)
        post = await self.repo.get_post(loan.post_id)
        if post is None:
            raise _not_found("post")
        if loan.state != REQUESTED:
            raise SharingError("bad_state", f"这条申请{loan.state_title}，不能再同意", f"loan is {loan.state}")
        if post.kind == ITEM and await self.repo.set_post_state(post.id, [AVAILABLE], LENT) is None:
            raise SharingError("post_busy", "这件东西已经答应借给别人了，可以等归还后再处理", "item already promised")
        done = await self.repo.move_loan(loan.id, [REQUESTED], ACCEPTED)
        if done is None:  # cancelled meanwhile: free the item again
            if post.kind == ITEM:
                await self.repo.set_post_state(post.id, [LENT], AVAILABLE)
            raise SharingError("bad_state", "这条申请刚刚被取消了", "loan changed meanwhile")
        if post.kind == ITEM:
            for other in await self.repo.loans_of_post(post.id, [REQUESTED]):
                await self.repo.move_loan(other.id, [REQUESTED], WAITING)
        await self._tell(loan.borrower_id, f"{display_name(resident)}同意借给您“{loan.post_title}”"
                                           f"（{loan.start} 至 {loan.end}）。回复 5 进入邻里共享，在“5 我的共享和借用”里"
                                           "给主人留言约时间（邻里转告），也可以选择把您的电话告诉主人。", f"loan:{loan.id}")
        return done

    async def decline(self, resident: Any, loan_id: str, reason: str = "") -> Loan:
        loan = await self._owned_loan(resident, loan_id)
        done = await self.repo.move_loan(loan.id, [REQUESTED, WAITING], DECLINED, reason=reason[:100])
        if done is None:
            raise SharingError("bad_state", f"这条申请{loan.state_title}，不能婉拒", f"loan is {loan.state}")
        await self._tell(loan.borrower_id, f"邻居这次没法借出“{loan.post_title}”，您可以再找找别家。", f"loan:{loan.id}")
        return done

    async def hand_over(self, resident: Any, loan_id: str) -> Loan:
        loan = await self._owned_loan(resident, loan_id)
        done = await self.repo.move_loan(loan.id, [ACCEPTED], HANDED_OVER)
        if done is None:
            raise SharingError("bad_state", f"这条申请{loan.state_title}，不能登记借出", f"loan is {loan.state}")
        post = await self.repo.get_post(loan.post_id)
        if post is not None and post.mode == GIVE:
            await self.repo.set_post_state(post.id, [LENT, AVAILABLE], GIVEN)
            for other in await self.repo.loans_of_post(post.id, [WAITING, REQUESTED]):
                if await self.repo.move_loan(other.id, [WAITING, REQUESTED], DECLINED, reason="given"):
                    await self._tell(other.borrower_id, f"“{loan.post_title}”已经送给别的邻居了。", f"loan:{other.id}")
            await self._tell(loan.borrower_id, f"已登记：“{loan.post_title}”送给您了，记得谢谢邻居哦。", f"loan:{loan.id}")
        else:
            await self._tell(loan.borrower_id, f"已登记您借到“{loan.post_title}”，请在 {loan.end} 前归还。", f"loan:{loan.id}")
        return done

    async def mark_returned(self, resident: Any, loan_id: str) -> tuple[Loan, Loan | None]:
        """The owner got the item back; the next in the waiting list (if any) is up."""
        loan = await self._owned_loan(resident, loan_id)
        done = await self.repo.move_loan(loan.id, [HANDED_OVER], RETURNED)
        if done is None:
            raise SharingError("bad_state", f"这条记录{loan.state_title}，不能登记归还", f"loan is {loan.state}")
        await self._tell(loan.borrower_id, f"“{loan.post_title}”已登记归还，谢谢您爱惜邻居的东西！", f"loan:{loan.id}")
        return done, await self._free(loan.post_id)

    async def cancel(self, resident: Any, loan_id: str) -> Loan:
        """The borrower withdraws a request (before the hand-over)."""
        loan = await self.repo.get_loan(loan_id)
        if loan is None or loan.borrower_id != resident.id:
            raise _not_found("loan")
        done = await self.repo.move_loan(loan.id, [WAITING, REQUESTED, ACCEPTED], CANCELLED)
        if done is None:
            raise SharingError("bad_state", f"这条申请{loan.state_title}，不能取消", f"loan is {loan.state}")
        if loan.state in (REQUESTED, ACCEPTED):
            await self._tell(loan.owner_id, f"邻居取消了借用“{loan.post_title}”的申请。", f"loan:{loan.id}")
        if loan.state == ACCEPTED:
            await self._free(loan.post_id)
        return done

    async def _free(self, post_id: str) -> Loan | None:
        """The item is back: available again, and the first waiting request moves up."""
        post = await self.repo.get_post(post_id)
        if post is None or post.kind != ITEM:
            return None
        await self.repo.set_post_state(post_id, [LENT], AVAILABLE)
        for waiting in await self.repo.loans_of_post(post_id, [WAITING]):
            promoted = await self.repo.move_loan(waiting.id, [WAITING], REQUESTED)
            if promoted is None:
                continue
            await self._tell(promoted.borrower_id, f"您排队借的“{promoted.post_title}”已经归还，轮到您了，正在等邻居确认。",
                             f"loan:{promoted.id}")
            await self._tell(promoted.owner_id, f"排队的邻居想借“{promoted.post_title}”（{promoted.start} 至 {promoted.end}），"
                                                "请在“我的共享”里同意或婉拒。", f"loan:{promoted.id}")
            return promoted
        return None

    async def loans_to_handle(self, resident: Any) -> list[Loan]:
        """Requests on the resident's posts that need their action."""
        return await self.repo.loans_for(resident.id, "owner", [REQUESTED, ACCEPTED, HANDED_OVER])

    async def my_borrowing(self, resident: Any) -> list[Loan]:
        return await self.repo.loans_for(resident.id, "borrower", [WAITING, *ACTIVE_LOANS])

    async def remind_due(self, now: datetime | None = None) -> int:
        """Remind borrowers the day before (or on, or after) the return date; once per loan."""
        day = today(now)
        sent = 0
        for loan in await self.repo.due_loans((day + timedelta(days=1)).isoformat()):
            if not await self.repo.mark_reminded(loan.id):
                continue
            when = "明天" if loan.end > day.isoformat() else ("今天" if loan.end == day.isoformat() else f"{loan.end}（已过期）")
            await self._tell(loan.borrower_id, f"提醒：您借的“{loan.post_title}”{when}该还了，记得还给邻居哦。", f"loan:{loan.id}")
            sent += 1
        return sent

    # -- help requests -------------------------------------------------------------------

    async def ask_help(self, resident: Any, *, kind: str, details: str, when: str, place: str = "") -> HelpRequest:
        if kind not in HELP_KINDS:
            raise SharingError("invalid_kind", "请选择求助类型", "unknown help kind", 400)
        details, when, place = details.strip(), when.strip(), place.strip()
        if not details or len(details) > 200 or not when or len(when) > 40 or len(place) > 60:
            raise SharingError("invalid_help", "请写清楚要帮什么（200字内）和时间", "details/when missing or too long", 400)
        await self.check(details, when, place)
        return await self.repo.add_help(requester_id=resident.id, community=resident.community, kind=kind,
                                        kind_title=HELP_KINDS[kind], details=details, when=when, place=place)

    async def open_helps(self, resident: Any, limit: int = 8) -> list[HelpRequest]:
        return await self.repo.open_helps(resident.community, exclude_requester=resident.id, limit=limit)

    async def take_help(self, resident: Any, help_id: str, phone: str | None = None, name: str | None = None) -> HelpRequest:
        """A volunteer takes a request; for 接孩子 the parent is told who comes (name, and the phone
        the volunteer agreed to share)."""
        found = await self.repo.get_help(help_id)
        if found is None or found.hidden or found.community != resident.community:
            raise _not_found("help")
        if found.requester_id == resident.id:
            raise SharingError("own_help", "这是您自己发的求助", "cannot take your own request", 400)
        who = display_name(resident, name)
        taken = await self.repo.move_help(help_id, {"state": OPEN, "hidden": False}, TAKEN, volunteer_id=resident.id,
                                          volunteer_name=who, phone_shared=bool(phone))
        if taken is None:
            raise SharingError("help_taken", "这个求助已经有邻居接了，谢谢您的热心！", "already taken")
        reach = f"电话：{phone}。" if phone else ""
        lead = "来接孩子的是" if found.kind == "pickup_child" else "接下求助的是"
        await self._tell(found.requester_id, f"有邻居接下了您的求助“{found.kind_title}：{found.details[:20]}”，"
                                             f"{lead}{who}。{reach}回复 5 进入邻里共享，在“6 我的求助”里可以给TA留言（邻里转告），"
                                             "完成后请在那里确认。", f"help:{found.id}")
        return taken

    async def complete_help(self, resident: Any, help_id: str) -> HelpRequest:
        """The requester confirms the volunteer helped; the volunteer earns points."""
        done = await self.repo.move_help(help_id, {"state": TAKEN, "requester_id": resident.id}, COMPLETED)
        if done is None:
            found = await self.repo.get_help(help_id)
            if found is None or found.requester_id != resident.id:
                raise _not_found("help")
            raise SharingError("bad_state", f"这个求助{found.state_title}，不能确认完成", f"help is {found.state}")
        await self._tell(done.volunteer_id, f"邻居确认您已帮忙完成“{done.kind_title}”，谢谢您！", f"help:{done.id}")
        await self.bus.publish(events.HelpCompleted(resident_id=done.volunteer_id, community=done.community,
                                                    ref=done.id, requester_id=done.requester_id, kind=done.kind))
        return done

    async def cancel_help(self, resident: Any, help_id: str) -> HelpRequest:
        found = await self.repo.get_help(help_id)
        done = await self.repo.move_help(help_id, {"state": {"$in": [OPEN, TAKEN]}, "requester_id": resident.id}, CANCELLED)
        if done is None:
            if found is None or found.requester_id != resident.id:
                raise _not_found("help")
            raise SharingError("bad_state", f"这个求助{found.state_title}，不能取消", f"help is {found.state}")
        if found and found.volunteer_id:
            await self._tell(found.volunteer_id, f"邻居取消了求助“{found.kind_title}”，不用去了，谢谢您。", f"help:{found.id}")
        return done

    async def my_helps(self, resident: Any) -> list[HelpRequest]:
        return await self.repo.helps_of(resident.id, "requester", [OPEN, TAKEN])

    async def my_volunteering(self, resident: Any) -> list[HelpRequest]:
        return await self.repo.helps_of(resident.id, "volunteer", [TAKEN])

    async def report(self, resident: Any, kind: str, record_id: str, reason: str) -> bool:
        """A resident flags a post or help request for staff."""
        if kind == "help":
            record = await self.repo.get_help(record_id)
        else:
            record = await self.repo.get_post(record_id)
        if record is None or record.community != resident.community:
            raise _not_found(kind)
        return await self.repo.report(kind, record_id, resident.id, reason or "")

    async def _tell(self, resident_id: str | None, text: str, ref: str | None = None) -> None:
        if self.notifier is None or not resident_id:
            return
        try:
            await self.notifier.notify(text=text, resident_id=resident_id, ref=ref)
        except Exception:  # the record changed; a failed notice must not undo that
            log.exception("notice to resident %s failed", resident_id)


__all__ = ["SharingService", "SharingError", "ContentRejected", "BorrowResult", "HELP_KINDS", "CONDITIONS", "today"]
