"""找人工 (human_handoff, the global key 9): a callback request for the resident's
community staff, with the conversation so far; on WeChat also the customer-service
transfer.

Flow "handoff":  phone (skipped when the profile has one) -> confirm -> saved

- phone: 11 digits typed or spoken ("一三八…"), or 1 for "no phone, answer me here";
- confirm: the number is read back; 1 / 对 saves, 2 / 不对 goes back to the phone step;
- 算了 / 不找了 (or the cancel intent, or 0) ends it without saving.
"""
from __future__ import annotations

import re

from handlers.messages import Reply
from handlers.base import Turn, registry
from handlers.elder import choice_number, plain, reprompt, understood, yes_no
from services.handoff import phone_from_text, spaced_phone

FLOW = "handoff"
TRANSFER_CHANNELS = {"wechat"}
_STOP = re.compile(r"^(?:算了|不找了|不用了|不要了|不需要了|不用找了|取消|退出)")
_NO_PHONE = re.compile(r"不留|不想留|不方便留|没有手机|没手机|不给")


registry.add_wechat_key("MENU_HUMAN", "human_handoff")


@registry.on_intent("human_handoff")
async def start(turn: Turn) -> list[Reply]:
    residents, user_key = turn.services.residents, turn.message.user_key
    resident = await residents.me(user_key)
    misunderstood = await turn.services.handoff.misunderstood_before(user_key)
    community = await residents.community_name(resident.community)
    reason = "misunderstood" if misunderstood else "asked"
    if resident.phone:
        turn.state.start(FLOW, "confirm", phone=resident.phone, reason=reason, community=community)
        return [turn.say("handoff_confirm", phone=spaced_phone(resident.phone), community=community)]
    turn.state.start(FLOW, "phone", phone=None, reason=reason, community=community)
    return [turn.say("handoff_phone", community=community, misunderstood=misunderstood)]


@registry.on_flow(FLOW)
async def handoff_flow(turn: Turn) -> list[Reply] | None:
    state = turn.state
    community = state.slots.get("community", "社区")
    if _STOP.match(plain(turn.text)):
        state.end()
        return [turn.say("handoff_cancelled")]
    if state.step == "phone":
        phone = phone_from_text(turn.text)
        if phone is None and not (choice_number(turn.text) == 1 or _NO_PHONE.search(turn.text)):
            return reprompt(turn, "handoff_phone_again")
        understood(turn)
        state.slots["phone"] = phone
        state.step = "confirm"
        return [turn.say("handoff_confirm", phone=spaced_phone(phone) if phone else None, community=community)]
    if state.step == "confirm":
        answer = yes_no(turn)
        if answer is None:
            return reprompt(turn, "handoff_confirm_again")
        understood(turn)
        if answer is False:  # back one step: the phone number
            state.step = "phone"
            return [turn.say("handoff_phone", community=community, misunderstood=False)]
        return await _commit(turn, community)
    state.end()
    return None


async def _commit(turn: Turn, community: str) -> list[Reply]:
    state = turn.state
    user_key = turn.message.user_key
    resident = await turn.services.residents.me(user_key)
    phone = state.slots.get("phone")
    callback, created = await turn.services.handoff.request(
        resident=resident, user_key=user_key, channel=turn.message.channel, phone=phone,
        reason=state.slots.get("reason", "asked"), elder=state.elder_mode,
    )
    state.end()
    transfer = turn.message.channel in TRANSFER_CHANNELS
    reply = turn.say(
        "handoff_done", code=callback.code, community=community, phone=spaced_phone(phone) if phone else None,
        again=not created, transfer=transfer,
    )
    reply.transfer_to_human = transfer
    return [reply]
