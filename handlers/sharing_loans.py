"""My sharing and borrowing (我的共享和借用) and my help requests (我的求助), on the flow engine.

Flows "share_mine" and "help_mine": entry (numbered list) -> action (numbered, or in words:
"行，借给他" = 同意借出, "还回来了" = 东西已归还) -> done at once; a relayed message or a
phone number (only on the resident's explicit pick, 11 digits asked if none is registered)
takes one more answer. Borrower and owner, requester and helper reach each other this way
(services/sharing_contact.py).
"""
from __future__ import annotations

from typing import Any

from handlers.messages import Reply
from handlers.base import Turn
from handlers.flow import engine
from handlers.flow_choices import Choice
from handlers.flow_spec import Flow, Rejected, Slot
from handlers.sharing_common import MAX_ITEMS, day_label, resident_of, sharing
from handlers.sharing_text import free_text
from services.sharing import SharingError
from services.sharing_contact import PHONE, ContactError, mask_phone
from storage.sharing import ACCEPTED, HANDED_OVER, OPEN, REQUESTED, TAKEN, WAITING

MINE, HELP_MINE = "share_mine", "help_mine"
ACCEPT_WORDS = ("同意", "借给他", "借给她", "借给邻居", "借吧", "可以借", "答应", "借出", "行借给他", "好借给他")
DECLINE_WORDS = ("不借", "拒绝", "不方便", "婉拒了", "不想借", "借不了")


def _message(who: str) -> Choice:
    return Choice("message", f"给{who}留言（邻里转告）", ("留言", "说一声", "转告", "带个话"))


def _phone(who: str) -> Choice:
    return Choice("phone", f"把我的电话告诉{who}", ("电话", "手机号", "号码", "打电话"))


def loan_actions(role: str, state: str) -> list[Choice]:
    if role == "owner":
        return {
            REQUESTED: [Choice("accept", "同意借出", ACCEPT_WORDS), Choice("decline", "婉拒", DECLINE_WORDS)],
            ACCEPTED: [_message("邻居"), _phone("邻居"),
                       Choice("hand_over", "东西已交给邻居（登记借出）", ("已交给", "拿走了", "借出去了", "交给他了"))],
            HANDED_OVER: [Choice("returned", "东西已归还", ("还了", "归还了", "还回来了", "已归还")),
                          _message("邻居"), _phone("邻居")],
        }.get(state, [])
    cancel = Choice("cancel", "取消申请", ("不借了", "撤回", "不要了"))
    return {
        WAITING: [cancel], REQUESTED: [cancel],
        ACCEPTED: [_message("主人"), _phone("主人"), cancel],
        HANDED_OVER: [_message("主人"), _phone("主人")],
    }.get(state, [])


def help_actions(role: str, state: str) -> list[Choice]:
    if role == "volunteer":
        return [_message("发求助的邻居"), _phone("发求助的邻居")] if state == TAKEN else []
    cancel = Choice("cancel", "取消求助", ("不用帮了", "撤回", "不需要了"))
    if state == TAKEN:
        return [Choice("complete", "邻居已帮我办好了（确认完成）", ("办好了", "完成了", "帮完了", "接到了", "确认完成")),
                _message("帮忙的邻居"), _phone("帮忙的邻居"), cancel]
    return [cancel] if state == OPEN else []


LOAN_METHODS = {"accept": "accept", "decline": "decline", "hand_over": "hand_over", "returned": "mark_returned",
                "cancel": "cancel"}
DONE = {
    "accept": "已同意。已通知邻居，并告诉TA可以在这里给您留言约时间；您也可以回复 5、5 选这条借用，给邻居留言或把电话告诉TA。",
    "decline": "已婉拒，已告诉邻居。", "hand_over": "已登记借出，到期前会提醒邻居归还。",
    "returned": "已登记归还，谢谢您的分享！", "cancel": "已取消，已告诉对方。",
    "complete": "好的，已确认完成，帮忙的邻居会获得积分。谢谢您的反馈！",
}


# -- entries -----------------------------------------------------------------------------


async def loan_entries(turn: Turn) -> list[Choice]:
    resident = await resident_of(turn)
    owned = await sharing(turn).loans_to_handle(resident)
    borrowing = await sharing(turn).my_borrowing(resident)
    entries = [("owner", loan) for loan in owned] + [("borrower", loan) for loan in borrowing]
    return [Choice(f"{role}:{loan.id}",
                   f"{'邻居借您的' if role == 'owner' else '您借的'}“{loan.post_title}” "
                   f"{day_label(loan.start)}-{day_label(loan.end)} · {loan.state_title}")
            for role, loan in entries[:MAX_ITEMS]]


async def help_entries(turn: Turn) -> list[Choice]:
    resident = await resident_of(turn)
    entries = [("requester", h) for h in await sharing(turn).my_helps(resident)]
    entries += [("volunteer", h) for h in await sharing(turn).my_volunteering(resident)]
    return [Choice(f"{role}:{h.id}", f"{'我的求助' if role == 'requester' else '我帮邻居'}：{h.kind_title} · {h.when} · {h.state_title}")
            for role, h in entries[:MAX_ITEMS]]


async def _handled_already(turn: Turn, flow: Flow) -> list[Reply]:
    """The entry picked was dealt with meanwhile (by the other side): the list again."""
    engine.done(turn).remove("entry")
    return [await engine.ask(turn, flow, "entry", note="这条已经处理过了。")]


async def after_loan_entry(turn: Turn, value: Any) -> list[Reply] | None:
    role, loan_id = str(value).split(":", 1)
    loan = await sharing(turn).loan(loan_id)
    if loan is None or not loan_actions(role, loan.state):
        return await _handled_already(turn, MINE_FLOW)
    position = await sharing(turn).queue_position(loan) if loan.state == WAITING else 0
    turn.state.slots.update(role=role, ref_id=loan.id, state=loan.state, title=loan.post_title, position=position,
                            start=day_label(loan.start), end=day_label(loan.end), state_title=loan.state_title)
    return None


async def after_help_entry(turn: Turn, value: Any) -> list[Reply] | None:
    role, help_id = str(value).split(":", 1)
    found = await sharing(turn).help_request(help_id)
    if found is None or not help_actions(role, found.state):
        return await _handled_already(turn, HELP_MINE_FLOW)
    turn.state.slots.update(role=role, ref_id=found.id, state=found.state, title=found.kind_title, when=found.when,
                            details=found.details, state_title=found.state_title, volunteer=found.volunteer_id)
    return None


# -- actions -----------------------------------------------------------------------------


async def _phone_on_file(turn: Turn) -> str | None:
    return (await resident_of(turn)).phone


async def act(turn: Turn, flow_name: str) -> list[Reply] | None:
    """Do what was picked once everything it needs is there; None = ask the next question."""
    slots = turn.state.slots
    action = slots.get("action")
    resident = await resident_of(turn)
    ref_kind = "loan" if flow_name == MINE else "help"
    try:
        if action == "message":
            if not slots.get("text"):
                return None
            parties = await sharing(turn).contact.relay(resident, ref_kind, slots["ref_id"], slots["text"])
            message = f"已把您的留言转告{parties.other_role}，TA回复时会通知您。"
        elif action == "phone":
            phone = slots.get("phone") or resident.phone
            if not phone:
                return None
            parties = await sharing(turn).contact.share_phone(resident, ref_kind, slots["ref_id"], phone)
            message = f"已把您的电话 {mask_phone(phone)} 告诉{parties.other_role}。"
        elif flow_name == MINE:
            await getattr(sharing(turn), LOAN_METHODS[action])(resident, slots["ref_id"])
            message = DONE[action]
        elif action == "complete":
            await sharing(turn).complete_help(resident, slots["ref_id"])
            message = DONE[action]
        else:
            await sharing(turn).cancel_help(resident, slots["ref_id"])
            message = "求助已取消。"
    except (SharingError, ContactError) as exc:
        message = exc.zh
    turn.state.end()
    return [turn.say("share_done", message=message)]


def parse_text(turn: Turn, text: str) -> str | None:
    said = free_text(text)  # a message to pass on: any words (it reads like anything to the NLU)
    if said and PHONE.search(said):
        raise Rejected("留言里请不要写电话号码；要告诉对方电话，请选“把我的电话告诉对方”。")
    return said[:200] if said else None


def parse_phone(turn: Turn, text: str) -> str | None:
    found = PHONE.search(text or "")
    if not found:
        raise Rejected("请写11位手机号。")
    return found.group(1)


def _slots(entries: Any, after_entry: Any, actions: Any, flow_name: str) -> list[Slot]:
    async def after_any(turn: Turn, value: Any) -> list[Reply] | None:
        return await act(turn, flow_name)

    async def needs_phone(turn: Turn) -> bool:
        return turn.state.slots.get("action") == "phone" and not await _phone_on_file(turn)

    async def context(turn: Turn) -> dict[str, Any]:
        if flow_name != MINE:
            return {}
        posts = await sharing(turn).posts_of((await resident_of(turn)).id, 5)
        return {"posts": [f"{p.title}（{p.state_title}）" for p in posts]}

    return [
        Slot("entry", "哪一条", "share_mine" if flow_name == MINE else "share_help_mine", words=("哪一条", "哪个"),
             choices=entries, after=after_entry, context=context),
        Slot("action", "操作", "share_loan_detail" if flow_name == MINE else "share_help_detail", words=("操作",),
             choices=lambda turn: actions(turn.state.slots.get("role") or "", turn.state.slots.get("state") or ""),
             after=after_any),
        Slot("text", "留言", "share_contact_text", words=("留言",), parse=parse_text, after=after_any,
             needed=lambda turn: turn.state.slots.get("action") == "message"),
        Slot("phone", "电话", "share_contact_phone", words=("电话", "手机号"), parse=parse_phone, after=after_any, digits=True,
             needed=needs_phone),
    ]


async def _submit_mine(turn: Turn) -> list[Reply]:
    return await act(turn, MINE) or []


async def _submit_help_mine(turn: Turn) -> list[Reply]:
    return await act(turn, HELP_MINE) or []


MINE_FLOW = engine.register(Flow(
    name=MINE, title="借用处理", slots=_slots(loan_entries, after_loan_entry, loan_actions, MINE),
    confirm_template="share_done", submit=_submit_mine,
))
HELP_MINE_FLOW = engine.register(Flow(
    name=HELP_MINE, title="求助处理", slots=_slots(help_entries, after_help_entry, help_actions, HELP_MINE),
    confirm_template="share_done", submit=_submit_help_mine,
))


async def start_mine(turn: Turn) -> list[Reply]:
    if not await loan_entries(turn):
        posts = await sharing(turn).posts_of((await resident_of(turn)).id, 5)
        turn.state.end()
        return [turn.say("share_mine_none", posts=posts)]
    turn.state.slots = {}
    return await engine.start(turn, MINE)


async def start_help_mine(turn: Turn) -> list[Reply]:
    if not await help_entries(turn):
        turn.state.end()
        return [turn.say("share_help_mine_none")]
    turn.state.slots = {}
    return await engine.start(turn, HELP_MINE)
